"""The API tests' application, client and key fixtures, on SQLite and PostgreSQL."""

from tests.api.conftest import app, auth, client, submitter

__all__ = ["app", "auth", "client", "submitter"]
