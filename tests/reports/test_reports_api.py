"""``/api/v1/reports``: the department reads every table; a facility reads its own scorecard only;
nobody else reads reports. JSON, CSV, XLSX and Markdown."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from mpi.keys import Role, create_key
from mpi.store import session_scope
from tests.support import TEST_SECRET, ReportStore

pytestmark = pytest.mark.slow  # a 400-person province ingested once (tests/reports/conftest.py)


@pytest.fixture
def client(report_store: ReportStore) -> Iterator[TestClient]:
    app = create_app(report_store.settings())
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def _key(client: TestClient, role: Role, facility: str | None = None) -> dict[str, str]:
    with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
        _, plaintext = create_key(session=session, role=role, facility_code=facility, secret=TEST_SECRET)
    return {"Authorization": f"Bearer {plaintext}"}


def test_analyst_reads_every_table(client: TestClient) -> None:
    analyst = _key(client, Role.ANALYST)
    names = client.get("/api/v1/reports", headers=analyst).json()
    assert "months" in names and "surveillance" in names
    for name in names:
        response = client.get(f"/api/v1/reports/{name}", headers=analyst)
        assert response.status_code == 200, name
        body = response.json()
        assert body["name"] == name
        assert all(set(row) >= set(body["columns"]) for row in body["rows"])
    months = client.get("/api/v1/reports/months?from=2025-08&to=2025-09", headers=analyst).json()
    assert [r["month"] for r in months["rows"]] == ["2025-08", "2025-09"]
    assert client.get("/api/v1/reports/months?from=2025-13", headers=analyst).status_code == 422
    assert client.get("/api/v1/reports/nope", headers=analyst).status_code == 404


def test_downloads(client: TestClient) -> None:
    from openpyxl import load_workbook  # imported where used: every worker collects this module

    admin = _key(client, Role.ADMIN)
    response = client.get("/api/v1/reports/months.csv", headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    json_rows = client.get("/api/v1/reports/months", headers=admin).json()["rows"]
    assert [{k: int(v) if k != "month" else v for k, v in r.items()} for r in rows] == json_rows
    xlsx = client.get("/api/v1/reports/waves.xlsx", headers=admin)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == ["wave", "onboarded_on", "facilities", "records", "patients",
                                            "referral_records"]  # fmt: skip
    assert [c.value for c in sheet[2]][:2] == ["Đợt", "Ngày triển khai"]
    md = client.get("/api/v1/reports/quality.md", headers=admin)
    assert md.text.startswith("## Chất lượng dữ liệu tại nguồn")


def test_a_facility_reads_its_own_scorecard_and_no_other(client: TestClient) -> None:
    own = _key(client, Role.SUBMITTER, "33001")
    response = client.get("/api/v1/reports/quality", headers=own)
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert rows and {r["facility_code"] for r in rows} == {"33001"}
    assert {r["facility_code"] for r in client.get("/api/v1/reports/issues", headers=own).json()["rows"]} <= {"33001"}
    assert client.get("/api/v1/reports/quality?facility=33001", headers=own).status_code == 200
    other = client.get("/api/v1/reports/quality?facility=33002", headers=own)
    assert (other.status_code, other.json()["error"]["code"]) == (403, "facility_forbidden")
    assert client.get("/api/v1/reports/quality.csv?facility=33002", headers=own).status_code == 403
    for table in ("months", "waves", "surveillance", "referrals", "facilities"):
        assert client.get(f"/api/v1/reports/{table}", headers=own).status_code == 403, table
    csv_rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/reports/quality.csv", headers=own).text)))
    assert {r["facility_code"] for r in csv_rows} == {"33001"}


def test_other_roles_read_no_reports(client: TestClient) -> None:
    for role, facility in ((Role.CLINICIAN, "33001"), (Role.STEWARD, None)):
        response = client.get("/api/v1/reports/months", headers=_key(client, role, facility))
        assert response.status_code == 403
    assert client.get("/api/v1/reports/months").status_code == 401
