"""Keys are hashed with the application's own MPI_SECRET_KEY, not whatever the process environment says."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from api.app import create_app
from mpi.keys import Role, create_key
from mpi.settings import Settings
from mpi.store import session_scope


def test_a_key_minted_under_another_secret_does_not_authenticate(migrated_sqlite: Callable[[str], str]) -> None:
    settings = Settings(env="test", secret_key="app-secret-not-the-env-one", database_url=migrated_sqlite("s"))
    app = create_app(settings)
    with session_scope(app.state.engine) as session:
        _, good = create_key(session=session, role=Role.ADMIN, secret=settings.secret_key)
        _, other = create_key(session=session, role=Role.ADMIN)  # the environment's secret
    with TestClient(app) as client:
        assert client.get("/api/v1/audit", headers={"Authorization": f"Bearer {good}"}).status_code == 200
        refused = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {other}"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (401, "key_unknown")
    app.state.engine.dispose()
