"""`/api/v1/submissions` over HTTP on SQLite and PostgreSQL: transports, receipts, auth, limits, XXE."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api.app import create_app
from mpi.keys import Role, create_key, revoke_key, verify_key
from mpi.settings import Settings
from mpi.store import Encounter, Submission, ValidationIssue, content_tables, session_scope
from tests.builders import envelope, outpatient
from tests.support import TEST_SECRET, KeyFactory

URL = "/api/v1/submissions"
PATIENT_NAME = "TRẦN THỊ MINH THƯ"  # the invented patient of tests.builders.summary
PATIENT_CCCD = "074190001234"


def _post_xml(client: TestClient, data: bytes, headers: dict[str, str]) -> httpx.Response:
    response: httpx.Response = client.post(URL, content=data, headers={**headers, "Content-Type": "application/xml"})
    return response


def _post_multipart(client: TestClient, data: bytes, headers: dict[str, str]) -> httpx.Response:
    response: httpx.Response = client.post(
        URL, files={"file": ("GIAMDINHHS.xml", data, "application/xml")}, headers=headers
    )
    return response


def _post_base64(client: TestClient, data: bytes, headers: dict[str, str]) -> httpx.Response:
    response: httpx.Response = client.post(URL, data={"fileHSBase64": base64.b64encode(data).decode()}, headers=headers)
    return response


TRANSPORTS = [
    pytest.param(_post_xml, id="xml-body"),
    pytest.param(_post_multipart, id="multipart-file"),
    pytest.param(_post_base64, id="form-fileHSBase64"),
]


def _counts(engine: Engine) -> dict[str, int]:
    tables: dict[str, Any] = {
        "submission": Submission.__table__,  # type: ignore[attr-defined]
        "encounter": Encounter.__table__,  # type: ignore[attr-defined]
        "issue": ValidationIssue.__table__,  # type: ignore[attr-defined]
        "XML1": content_tables["XML1"],
        "XML2": content_tables["XML2"],
    }
    with engine.connect() as conn:
        return {name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for name, t in tables.items()}


def _encounters(receipt: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(hoso, facility, MA_LK, status, version, new_version, issue codes) per encounter."""
    return [
        (
            e["hoso"],
            e["facility_code"],
            e["ma_lk"],
            e["status"],
            e["version"],
            e["new_version"],
            sorted(i["code"] for i in e["issues"]),
        )
        for e in receipt["encounters"]
    ]


def _error(response: httpx.Response) -> str:
    """The error code, after checking the body is exactly ``{"error": {"code", "message"}}``."""
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    code: str = body["error"]["code"]
    return code


# --- receiving a file -----------------------------------------------------------------------------


@pytest.mark.parametrize("post", TRANSPORTS)
def test_each_transport_stores_the_file_and_answers_201_with_a_receipt(
    post: Any, client: TestClient, submitter: dict[str, str], app: FastAPI
) -> None:
    data = envelope([outpatient("LK1"), outpatient("LK2")])
    response = post(client, data, submitter)
    assert response.status_code == 201
    receipt = response.json()
    assert receipt["submission_id"] == 1
    assert receipt["sha256"] == hashlib.sha256(data).hexdigest()
    assert (receipt["outcome"], receipt["duplicate"], receipt["facility_code"]) == (
        "accepted",
        False,
        "74001",
    )
    assert (receipt["declared_count"], receipt["hoso_count"], receipt["signature_present"]) == (2, 2, False)
    assert receipt["issues"] == []
    assert _encounters(receipt) == [
        (1, "74001", "LK1", "accepted", 1, False, []),
        (2, "74001", "LK2", "accepted", 1, False, []),
    ]
    assert [(e["warnings"], e["errors"]) for e in receipt["encounters"]] == [(0, 0), (0, 0)]
    assert _counts(app.state.engine) == {"submission": 1, "encounter": 2, "issue": 0, "XML1": 2, "XML2": 4}


def test_text_xml_is_accepted_like_application_xml(client: TestClient, submitter: dict[str, str]) -> None:
    response = client.post(
        URL, content=envelope([outpatient("LK1")]), headers={**submitter, "Content-Type": "text/xml"}
    )
    assert response.status_code == 201
    assert response.json()["outcome"] == "accepted"


def test_a_receipt_carries_every_issue_with_its_path_and_both_messages(
    client: TestClient, submitter: dict[str, str]
) -> None:
    response = _post_xml(client, envelope([outpatient("LK1", T_THUOC="28000.00")], declared=2), submitter)
    assert response.status_code == 201
    receipt = response.json()
    assert receipt["outcome"] == "accepted"
    assert [(i["severity"], i["code"], i["hoso"]) for i in receipt["issues"]] == [
        ("warning", "soluonghoso_mismatch", None)
    ]
    (encounter,) = receipt["encounters"]
    assert (encounter["status"], encounter["warnings"], encounter["errors"]) == ("accepted", 1, 0)
    (issue,) = encounter["issues"]
    assert {k: issue[k] for k in ("severity", "code", "hoso", "table", "row", "field")} == {
        "severity": "warning",
        "code": "total_mismatch",
        "hoso": 1,
        "table": "XML1",
        "row": None,
        "field": "T_THUOC",
    }
    assert issue["path"].startswith("HOSO[1]/XML1")
    assert issue["message_vi"] and issue["message_en"]


@pytest.mark.parametrize("post", TRANSPORTS)
def test_the_same_file_again_answers_200_with_the_original_receipt_and_stores_nothing(
    post: Any, client: TestClient, submitter: dict[str, str], app: FastAPI
) -> None:
    data = envelope([outpatient("LK1")])
    first = post(client, data, submitter)
    before = _counts(app.state.engine)
    again = post(client, data, submitter)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json() == {**first.json(), "duplicate": True}
    assert _counts(app.state.engine) == before == {"submission": 1, "encounter": 1, "issue": 0, "XML1": 1, "XML2": 2}


def test_the_same_encounter_in_another_file_is_a_duplicate_encounter(
    client: TestClient, submitter: dict[str, str]
) -> None:
    assert _post_xml(client, envelope([outpatient("LK1")], ngaylap="20260301"), submitter).status_code == 201
    response = _post_xml(client, envelope([outpatient("LK1")], ngaylap="20260302"), submitter)
    assert response.status_code == 201
    assert (response.json()["submission_id"], response.json()["duplicate"]) == (2, False)
    assert _encounters(response.json()) == [(1, "74001", "LK1", "duplicate", 1, False, [])]


def test_a_corrected_resubmission_is_accepted_as_version_2(
    client: TestClient, submitter: dict[str, str], app: FastAPI
) -> None:
    _post_xml(client, envelope([outpatient("LK1", MA_BENH_CHINH="J06.9")]), submitter)
    response = _post_xml(client, envelope([outpatient("LK1", MA_BENH_CHINH="J20.9")]), submitter)
    assert response.status_code == 201
    assert _encounters(response.json()) == [(1, "74001", "LK1", "accepted", 2, True, [])]
    assert _counts(app.state.engine)["encounter"] == 2


# --- reading a receipt ----------------------------------------------------------------------------


def test_get_answers_the_stored_receipt(client: TestClient, submitter: dict[str, str]) -> None:
    posted = _post_xml(client, envelope([outpatient("LK1")]), submitter).json()
    response = client.get(f"{URL}/{posted['submission_id']}", headers=submitter)
    assert response.status_code == 200
    assert response.json() == posted


def test_another_key_of_the_same_facility_and_an_admin_may_read_the_receipt(
    client: TestClient, submitter: dict[str, str], auth: KeyFactory
) -> None:
    submission_id = _post_xml(client, envelope([outpatient("LK1")]), submitter).json()["submission_id"]
    assert client.get(f"{URL}/{submission_id}", headers=auth(Role.SUBMITTER, "74001")).status_code == 200
    assert client.get(f"{URL}/{submission_id}", headers=auth(Role.ADMIN, None)).status_code == 200


def test_get_of_an_unknown_submission_is_404(module_client: TestClient, module_submitter: dict[str, str]) -> None:
    response = module_client.get(f"{URL}/999", headers=module_submitter)
    assert response.status_code == 404
    assert _error(response) == "not_found"


def test_get_of_a_non_positive_id_is_422(module_client: TestClient, module_submitter: dict[str, str]) -> None:
    response = module_client.get(f"{URL}/0", headers=module_submitter)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request_invalid"


def test_a_submitter_of_another_facility_cannot_read_the_receipt(
    client: TestClient, submitter: dict[str, str], auth: KeyFactory
) -> None:
    submission_id = _post_xml(client, envelope([outpatient("LK1")]), submitter).json()["submission_id"]
    response = client.get(f"{URL}/{submission_id}", headers=auth(Role.SUBMITTER, "74002"))
    assert response.status_code == 403
    assert _error(response) == "facility_forbidden"


def test_a_copy_of_another_facilitys_file_gets_no_receipt(client: TestClient, auth: KeyFactory) -> None:
    data = envelope([outpatient("LK1", facility="74002")], facility="74002")
    assert _post_xml(client, data, auth(Role.SUBMITTER, "74002")).status_code == 201
    copy = _post_xml(client, data, auth(Role.SUBMITTER, "74001"))
    assert (copy.status_code, _error(copy)) == (403, "facility_forbidden")
    assert "LK1" not in copy.text and "person" not in copy.text
    again = _post_xml(client, data, auth(Role.SUBMITTER, "74002"))  # the facility itself still gets it
    assert (again.status_code, again.json()["duplicate"]) == (200, True)


def test_a_receipt_says_nothing_about_persons(client: TestClient, submitter: dict[str, str]) -> None:
    """Linking runs on ingest, but a receipt names no person, link rule or match: a submitter must not learn
    whether a CCCD is known by storing an encounter with it."""
    receipt = _post_xml(client, envelope([outpatient("LK1")]), submitter).json()
    (encounter,) = receipt["encounters"]
    assert encounter["status"] == "accepted"
    assert not {"identity", "person_id", "link_state", "rule"} & set(encounter)
    assert "person_id" not in str(receipt)


# --- authentication and roles ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        pytest.param(None, "key_missing", id="no-header"),
        pytest.param("Bearer ", "key_missing", id="empty-token"),
        pytest.param("Basic dXNlcjpwYXNz", "key_missing", id="basic-scheme"),
        pytest.param("Bearer not-a-key", "key_malformed", id="malformed"),
        pytest.param("Bearer mpi_abcdefghijkl_" + "x" * 43, "key_unknown", id="unknown"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_without_a_valid_key_the_answer_is_401_with_a_bearer_challenge(
    module_client: TestClient, authorization: str | None, code: str, method: str
) -> None:
    headers = {"Content-Type": "application/xml"} | ({"Authorization": authorization} if authorization else {})
    if method == "POST":
        response = module_client.post(URL, content=envelope([outpatient("LK1")]), headers=headers)
    else:
        response = module_client.get(f"{URL}/1", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert _error(response) == code


def test_a_key_with_the_right_prefix_but_another_secret_is_unknown(
    module_client: TestClient, module_submitter: dict[str, str]
) -> None:
    good = module_submitter["Authorization"]
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    response = _post_xml(module_client, envelope([outpatient("LK1")]), {"Authorization": forged})
    assert response.status_code == 401
    assert _error(response) == "key_unknown"


def test_a_revoked_key_is_401(client: TestClient, submitter: dict[str, str], app: FastAPI) -> None:
    assert _post_xml(client, envelope([outpatient("LK1")]), submitter).status_code == 201
    with session_scope(app.state.engine) as session:
        key = verify_key(session=session, plaintext=submitter["Authorization"].removeprefix("Bearer "))
        assert key.id is not None
        revoke_key(session=session, key_id=key.id)
    response = _post_xml(client, envelope([outpatient("LK2")]), submitter)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert _error(response) == "key_revoked"


@pytest.mark.parametrize(
    ("role", "facility"),
    [(Role.CLINICIAN, "74001"), (Role.STEWARD, None), (Role.ANALYST, None)],
    ids=["clinician", "steward", "analyst"],
)
def test_roles_other_than_submitter_and_admin_are_403(
    module_client: TestClient, module_auth: KeyFactory, module_app: FastAPI, role: Role, facility: str | None
) -> None:
    headers = module_auth(role, facility)
    response = _post_xml(module_client, envelope([outpatient("LK1")]), headers)
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers
    assert _error(response) == "role_forbidden"
    assert module_client.get(f"{URL}/1", headers=headers).status_code == 403
    assert _counts(module_app.state.engine)["submission"] == 0


def test_an_admin_may_submit_for_any_facility(client: TestClient, auth: KeyFactory) -> None:
    response = _post_xml(
        client, envelope([outpatient("LK1", facility="74002")], facility="74002"), auth(Role.ADMIN, None)
    )
    assert response.status_code == 201
    assert _encounters(response.json()) == [(1, "74002", "LK1", "accepted", 1, False, [])]


# --- facility scope -------------------------------------------------------------------------------


def test_a_submitter_cannot_store_an_encounter_of_another_facility(
    client: TestClient, submitter: dict[str, str], app: FastAPI
) -> None:
    data = envelope([outpatient("LK1", facility="74002")], facility="74002")
    response = _post_xml(client, data, submitter)
    assert response.status_code == 201
    receipt = response.json()
    assert receipt["outcome"] == "rejected"
    assert _encounters(receipt) == [(1, "74002", "LK1", "rejected", None, False, ["facility_scope"])]
    assert _counts(app.state.engine)["encounter"] == 0


def test_a_file_with_one_own_and_one_foreign_encounter_is_partial(
    client: TestClient, submitter: dict[str, str], app: FastAPI
) -> None:
    data = envelope([outpatient("LK1", facility="74001"), outpatient("LK2", facility="74002")], facility="74001")
    response = _post_xml(client, data, submitter)
    assert response.status_code == 201
    receipt = response.json()
    assert receipt["outcome"] == "partial"
    assert _encounters(receipt) == [
        (1, "74001", "LK1", "accepted", 1, False, []),
        (2, "74002", "LK2", "rejected", None, False, ["facility_scope", "macskcb_mismatch"]),
    ]
    assert _counts(app.state.engine)["encounter"] == 1


# --- hostile and broken files ---------------------------------------------------------------------

XXE_ENVELOPE = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<!DOCTYPE GIAMDINHHS [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b"<GIAMDINHHS><THONGTINDONVI><MACSKCB>&xxe;</MACSKCB></THONGTINDONVI></GIAMDINHHS>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<GIAMDINHHS>&lol3;</GIAMDINHHS>"
)


@pytest.mark.parametrize("data", [XXE_ENVELOPE, BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
def test_a_file_declaring_a_dtd_is_rejected_whole_with_dtd_forbidden(
    client: TestClient, submitter: dict[str, str], app: FastAPI, data: bytes
) -> None:
    response = _post_xml(client, data, submitter)
    assert response.status_code == 201
    receipt = response.json()
    assert receipt["outcome"] == "rejected"
    assert [(i["severity"], i["code"]) for i in receipt["issues"]] == [("error", "dtd_forbidden")]
    assert (receipt["encounters"], receipt["hoso_count"]) == ([], 0)
    assert "root:" not in response.text and "lollol" not in response.text
    assert _counts(app.state.engine) == {"submission": 1, "encounter": 0, "issue": 1, "XML1": 0, "XML2": 0}


def test_a_dtd_inside_one_table_rejects_that_encounter_only(client: TestClient, submitter: dict[str, str]) -> None:
    hostile = outpatient("LK2")
    hostile["XML1"] = b'<?xml version="1.0"?><!DOCTYPE TONG_HOP [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + hostile[
        "XML1"
    ].replace(b"<MA_BN>BN000123</MA_BN>", b"<MA_BN>&xxe;</MA_BN>")
    response = _post_xml(client, envelope([outpatient("LK1"), hostile]), submitter)
    assert response.status_code == 201
    receipt = response.json()
    assert receipt["outcome"] == "partial"
    assert _encounters(receipt) == [
        (1, "74001", "LK1", "accepted", 1, False, []),
        (2, None, None, "rejected", None, False, ["dtd_forbidden", "xml1_missing"]),
    ]
    assert "root:" not in response.text


def test_a_file_that_is_not_xml_is_a_rejected_receipt(client: TestClient, submitter: dict[str, str]) -> None:
    response = _post_xml(client, f"<GIAMDINHHS><HO_TEN>{PATIENT_NAME}</HO_TEN".encode(), submitter)
    assert response.status_code == 201
    assert response.json()["outcome"] == "rejected"
    assert [i["code"] for i in response.json()["issues"]] == ["xml_syntax"]
    assert PATIENT_NAME not in response.text


# --- transport errors -----------------------------------------------------------------------------


@pytest.fixture
def small_client(db_url: str) -> Iterator[TestClient]:
    """An app whose files may be at most 4096 bytes (the builders' one-HOSO file is 9593)."""
    settings = Settings(
        env="test", secret_key=TEST_SECRET, database_url=db_url, max_file_bytes=4096, max_table_bytes=2048
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def small_submitter(small_client: TestClient) -> dict[str, str]:
    app: Any = small_client.app
    with session_scope(app.state.engine) as session:
        _, plaintext = create_key(session=session, role=Role.SUBMITTER, facility_code="74001")
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.mark.parametrize("post", TRANSPORTS)
def test_a_file_over_max_file_bytes_is_413(
    post: Any, small_client: TestClient, small_submitter: dict[str, str]
) -> None:
    data = envelope([outpatient("LK1")])
    assert len(data) == 9593
    response = post(small_client, data, small_submitter)
    assert response.status_code == 413
    assert _error(response) == "file_too_large"
    app: Any = small_client.app
    assert _counts(app.state.engine)["submission"] == 0


def test_a_streamed_body_over_max_file_bytes_is_413_without_content_length(
    small_client: TestClient, small_submitter: dict[str, str]
) -> None:
    data = envelope([outpatient("LK1")])

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    response = small_client.post(URL, content=chunks(), headers={**small_submitter, "Content-Type": "application/xml"})
    assert response.status_code == 413
    assert _error(response) == "file_too_large"


def test_a_file_within_the_limit_at_exactly_max_file_bytes_is_received(
    small_client: TestClient, small_submitter: dict[str, str]
) -> None:
    data = envelope([outpatient("LK1")])[:4096]  # cut: not XML any more, but exactly at the limit
    response = _post_xml(small_client, data, small_submitter)
    assert response.status_code == 201
    assert response.json()["outcome"] == "rejected"


def test_a_table_over_max_table_bytes_rejects_its_encounter(db_url: str) -> None:
    settings = Settings(
        env="test", secret_key=TEST_SECRET, database_url=db_url, max_file_bytes=20_000, max_table_bytes=2048
    )
    app = create_app(settings)
    try:
        with session_scope(app.state.engine) as session:
            _, plaintext = create_key(session=session, role=Role.SUBMITTER, facility_code="74001")
        with TestClient(app) as client:
            response = _post_xml(client, envelope([outpatient("LK1")]), {"Authorization": f"Bearer {plaintext}"})
    finally:
        app.state.engine.dispose()
    assert response.status_code == 201
    (encounter,) = response.json()["encounters"]
    assert encounter["status"] == "rejected"
    assert "table_too_large" in [i["code"] for i in encounter["issues"]]


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", None])
def test_another_content_type_is_415(
    module_client: TestClient, module_submitter: dict[str, str], content_type: str | None
) -> None:
    headers = module_submitter | ({"Content-Type": content_type} if content_type else {})
    response = module_client.post(URL, content=envelope([outpatient("LK1")]), headers=headers)
    assert response.status_code == 415
    assert _error(response) == "unsupported_media_type"


@pytest.mark.parametrize(
    "encoded", ["not base64 at all!", "QQ=A", "QUJDRA="], ids=["garbage", "padding-inside", "truncated"]
)
def test_invalid_base64_in_fileHSBase64_is_400(
    module_client: TestClient, module_submitter: dict[str, str], module_app: FastAPI, encoded: str
) -> None:
    response = module_client.post(URL, data={"fileHSBase64": encoded}, headers=module_submitter)
    assert response.status_code == 400
    assert _error(response) == "base64_invalid"
    assert _counts(module_app.state.engine)["submission"] == 0


def test_base64_wrapped_over_lines_is_accepted(client: TestClient, submitter: dict[str, str]) -> None:
    encoded = base64.encodebytes(envelope([outpatient("LK1")])).decode()  # 76-column lines
    response = client.post(URL, data={"fileHSBase64": encoded}, headers=submitter)
    assert response.status_code == 201
    assert response.json()["outcome"] == "accepted"


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"data": {"other": "x"}}, id="urlencoded-without-the-field"),
        pytest.param({"files": {"other": ("a.xml", b"<x/>", "application/xml")}}, id="multipart-other-field"),
    ],
)
def test_a_form_without_the_file_is_400_file_missing(
    module_client: TestClient, module_submitter: dict[str, str], kwargs: dict[str, Any]
) -> None:
    response = module_client.post(URL, headers=module_submitter, **kwargs)
    assert response.status_code == 400
    assert _error(response) == "file_missing"


def test_a_multipart_body_without_a_boundary_is_400(
    module_client: TestClient, module_submitter: dict[str, str]
) -> None:
    headers = {**module_submitter, "Content-Type": "multipart/form-data"}
    response = module_client.post(URL, content=envelope([outpatient("LK1")]), headers=headers)
    assert response.status_code == 400
    assert _error(response) == "http_error"


def test_errors_never_quote_the_file(
    client: TestClient, submitter: dict[str, str], small_client: TestClient, small_submitter: dict[str, str]
) -> None:
    data = envelope([outpatient("LK1")])
    responses = [
        client.post(URL, content=data, headers={"Content-Type": "application/xml"}),
        client.post(URL, content=data, headers={"Content-Type": "application/xml", "Authorization": "Bearer x"}),
        client.post(URL, content=data, headers={**submitter, "Content-Type": "text/plain"}),
        client.post(URL, data={"fileHSBase64": data.decode()}, headers=submitter),
        _post_xml(small_client, data, small_submitter),
        _post_base64(small_client, data, small_submitter),
    ]
    assert [r.status_code for r in responses] == [401, 401, 415, 400, 413, 413]
    for response in responses:
        text = response.content.decode()
        assert PATIENT_NAME not in text and PATIENT_CCCD not in text and "LK1" not in text


def test_a_receipt_quotes_no_patient_value(client: TestClient, submitter: dict[str, str]) -> None:
    broken = outpatient("LK1", NGAY_SINH=PATIENT_NAME, SO_CCCD="074190001234567", T_THUOC=PATIENT_NAME)
    response = _post_xml(client, envelope([broken, outpatient("LK2", facility="74002")]), submitter)
    assert response.status_code == 201
    assert PATIENT_NAME not in response.text and "074190001234567" not in response.text


# --- documentation --------------------------------------------------------------------------------


def test_docs_and_openapi_are_served(module_client: TestClient) -> None:
    assert module_client.get("/docs").status_code == 200
    assert "swagger-ui" in module_client.get("/docs").text
    schema = module_client.get("/openapi.json").json()
    post = schema["paths"][URL]["post"]
    assert sorted(post["requestBody"]["content"]) == [
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data",
    ]
    assert sorted(post["responses"]) == ["200", "201", "401", "403", "413", "415"]
    assert sorted(schema["paths"][URL + "/{submission_id}"]["get"]["responses"]) == [
        "200",
        "401",
        "403",
        "404",
        "413",
        "415",
        "422",
    ]
