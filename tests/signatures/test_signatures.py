"""CHUKYDONVI signatures: checked against the facility's registered certificates, through the checker,
ingest (both policies), the REST submission route and the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from mpi.cli import app as cli
from mpi.errors import MPIError
from mpi.facilities.certificates import add_certificate, read_certificate, remove_certificate
from mpi.ingest import ingest_file
from mpi.keys import Role, create_key
from mpi.settings import get_settings
from mpi.store import Encounter, Submission, session_scope
from mpi.xml130 import parse_submission
from mpi.xml130.signature import DSIG, check_signature, fingerprint, sign_envelope
from tests.builders import envelope, outpatient
from tests.signatures.pki import Signer, make_ca, make_signer, tamper_one_byte


class PKI:
    def __init__(self) -> None:
        self.ca = make_ca()
        self.facility = make_signer(self.ca, "BV Đa khoa 74001 (synthetic)")
        self.renewed = make_signer(self.ca, "BV Đa khoa 74001 renewed (synthetic)", ecdsa=True)
        self.other = make_signer(self.ca, "Another facility (synthetic)")
        self.expired = make_signer(self.ca, "74001 expired (synthetic)", valid_from_days=-400, valid_to_days=-1)
        self.future = make_signer(self.ca, "74001 not yet valid (synthetic)", valid_from_days=10, valid_to_days=400)


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI()


def _file(ma_lk: str = "LK1") -> bytes:
    return envelope([outpatient(ma_lk)])


def _signed(signer: Signer, ma_lk: str = "LK1") -> bytes:
    return sign_envelope(_file(ma_lk), signer.key, [signer.cert])


def _check(data: bytes, *certs: Signer) -> tuple[str, str | None]:
    parsed = parse_submission(data)
    result = check_signature(data, parsed.signature, [s.cert for s in certs], at=datetime.now(UTC))
    return result.status, result.reason


# --- the checker ------------------------------------------------------------------------------------------


def test_the_signature_has_the_form_his_signing_tools_produce(pki: PKI) -> None:
    root = etree.fromstring(_signed(pki.facility))
    assert [child.tag for child in root] == ["THONGTINDONVI", "THONGTINHOSO", "CHUKYDONVI"]
    (sig,) = root.find("CHUKYDONVI")
    ns = {"ds": DSIG}
    assert sig.tag == f"{{{DSIG}}}Signature"
    (ref,) = sig.findall("ds:SignedInfo/ds:Reference", ns)
    assert ref.get("URI") == ""
    assert f"{DSIG}enveloped-signature" in [t.get("Algorithm") for t in ref.findall("ds:Transforms/ds:Transform", ns)]
    assert sig.find("ds:SignedInfo/ds:SignatureMethod", ns).get("Algorithm").endswith("rsa-sha256")
    assert sig.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", ns) is not None
    parsed = parse_submission(_signed(pki.facility))
    assert not parsed.all_issues() and parsed.signature_present  # the reader reads a signed file as before


def test_outcomes(pki: PKI) -> None:
    signed = _signed(pki.facility)
    assert _check(signed, pki.facility) == ("valid", None)
    assert _check(signed, pki.other, pki.facility) == ("valid", None)  # any registered certificate
    assert _check(_signed(pki.renewed), pki.facility, pki.renewed) == ("valid", None)  # ECDSA
    assert _check(_file(), pki.facility) == ("unsigned", None)
    assert _check(signed) == ("no_certificate", None)
    tampered = tamper_one_byte(signed)
    assert not parse_submission(tampered).all_issues()  # a well-formed file: only the signature tells
    assert _check(tampered, pki.facility) == ("invalid", "digest_mismatch")
    assert _check(_signed(pki.other), pki.facility) == ("invalid", "certificate_not_registered")
    assert _check(_signed(pki.expired), pki.expired) == ("invalid", "certificate_expired")
    assert _check(_signed(pki.future), pki.future) == ("invalid", "certificate_not_yet_valid")


def test_the_signature_must_be_xmldsig_over_the_whole_file(pki: PKI) -> None:
    signed = _signed(pki.facility)
    not_xmldsig = _file().replace(b"<CHUKYDONVI/>", b"<CHUKYDONVI>MIIB...base64 of something</CHUKYDONVI>")
    assert _check(not_xmldsig, pki.facility) == ("invalid", "not_xmldsig")
    partial = signed.replace(b'<ds:Reference URI="">', b'<ds:Reference URI="#THONGTINHOSO">')
    assert _check(partial, pki.facility) == ("invalid", "reference_scope")
    value = etree.fromstring(signed).find(f"CHUKYDONVI/{{{DSIG}}}Signature/{{{DSIG}}}SignatureValue").text
    forged = signed.replace(
        value.encode(), value[:10].encode() + (b"A" if value[10] != "A" else b"B") + value[11:].encode()
    )
    assert _check(forged, pki.facility) == ("invalid", "signature_mismatch")
    sha1 = signed.replace(
        b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", b"http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    )
    assert _check(sha1, pki.facility) == ("invalid", "algorithm_not_accepted")
    twice = signed.replace(
        b"</CHUKYDONVI>", etree.tostring(etree.fromstring(signed).find("CHUKYDONVI")[0]) + b"</CHUKYDONVI>"
    )
    assert _check(twice, pki.facility) == ("invalid", "several_signatures")


def test_a_certificate_file_is_read_strictly(pki: PKI) -> None:
    assert fingerprint(read_certificate(pki.facility.pem, source="c.pem")) == fingerprint(pki.facility.cert)
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key = pki.facility.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(MPIError, match="private key"):
        read_certificate(pki.facility.pem + key, source="c.pem")
    with pytest.raises(MPIError, match="several certificates"):
        read_certificate(pki.facility.pem + pki.other.pem, source="c.pem")
    with pytest.raises(MPIError, match="neither a PEM nor a DER"):
        read_certificate(b"hello", source="c.pem")


# --- ingest -----------------------------------------------------------------------------------------------


def _register(engine: Engine, *signers: Signer, facility: str = "74001") -> None:
    with session_scope(engine) as session:
        for signer in signers:
            add_certificate(session=session, facility_code=facility, cert=signer.cert)


def _stored(engine: Engine) -> tuple[int, list[tuple[str | None, str | None]]]:
    sub = Submission.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        encounters = conn.execute(select(func.count()).select_from(Encounter.__table__)).scalar_one()  # type: ignore[attr-defined]
        rows = conn.execute(select(sub.c.signature_status, sub.c.signature_reason).order_by(sub.c.id)).all()
    return int(encounters), [tuple(r) for r in rows]


def test_ingest_records_each_outcome_and_warns_on_invalid(engine: Engine, pki: PKI) -> None:
    unsigned = ingest_file(engine=engine, data=_file("LK0"), submitter="test")
    no_cert = ingest_file(engine=engine, data=_signed(pki.facility, "LK1"), submitter="test")
    _register(engine, pki.facility)
    valid = ingest_file(engine=engine, data=_signed(pki.facility, "LK2"), submitter="test")
    tampered = ingest_file(engine=engine, data=tamper_one_byte(_signed(pki.facility, "LK3")), submitter="test")
    unregistered = ingest_file(engine=engine, data=_signed(pki.other, "LK4"), submitter="test")
    assert [r.signature.status for r in (unsigned, no_cert, valid, tampered, unregistered)] == [
        "unsigned", "no_certificate", "valid", "invalid", "invalid",
    ]  # fmt: skip
    assert valid.signature.certificate == fingerprint(pki.facility.cert)
    assert tampered.outcome == "accepted" and [i.code for i in tampered.issues] == ["signature_invalid"]
    assert "đã bị thay đổi sau khi ký" in tampered.issues[0].message_vi
    assert "changed after it was signed" in tampered.issues[0].message_en
    assert _stored(engine) == (5, [
        ("unsigned", None), ("no_certificate", None), ("valid", None), ("invalid", "digest_mismatch"),
        ("invalid", "certificate_not_registered"),
    ])  # fmt: skip


def test_reject_policy_stores_nothing_of_an_invalid_file(
    engine: Engine, pki: PKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPI_SIGNATURE_POLICY", "reject")
    get_settings.cache_clear()
    _register(engine, pki.facility, pki.expired)
    for n, data in enumerate([tamper_one_byte(_signed(pki.facility)), _signed(pki.expired), _signed(pki.other)]):
        receipt = ingest_file(engine=engine, data=data, submitter="test")
        assert receipt.outcome == "rejected", n
        assert [e.status for e in receipt.encounters] == ["rejected"]
        assert [i.code for i in receipt.issues] == ["signature_rejected"]
    receipt = ingest_file(engine=engine, data=_signed(pki.expired, "LK9"), submitter="test")
    assert "hết hạn" in receipt.issues[0].message_vi and "expired" in receipt.issues[0].message_en
    assert _stored(engine)[0] == 0  # no encounter stored
    # valid, unsigned and unverifiable files are stored as ever
    for ma_lk, data in [("LK5", _signed(pki.facility, "LK5")), ("LK6", _file("LK6"))]:
        assert ingest_file(engine=engine, data=data, submitter="test").outcome == "accepted", ma_lk
    assert _stored(engine)[0] == 2


def test_a_removed_certificate_no_longer_verifies(sqlite_engine: Engine, pki: PKI) -> None:
    _register(sqlite_engine, pki.facility)
    with session_scope(sqlite_engine) as session:
        remove_certificate(session=session, facility_code="74001", ref=fingerprint(pki.facility.cert)[:12])
    receipt = ingest_file(engine=sqlite_engine, data=_signed(pki.facility), submitter="test")
    assert receipt.signature is not None
    assert receipt.signature.model_dump() == {"status": "no_certificate", "reason": None, "certificate": None}
    with session_scope(sqlite_engine) as session:  # registering it again restores it
        add_certificate(session=session, facility_code="74001", cert=pki.facility.cert)
        with pytest.raises(MPIError, match="already registered"):
            add_certificate(session=session, facility_code="74001", cert=pki.facility.cert)
    assert (
        ingest_file(engine=sqlite_engine, data=_signed(pki.facility, "LK2"), submitter="test").signature.status
        == "valid"
    )


# --- REST ---------------------------------------------------------------------------------------------------


def test_the_receipt_of_the_submission_route_shows_the_outcome(client: TestClient, pki: PKI) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    _register(engine, pki.facility)
    with session_scope(engine) as session:
        _, key = create_key(
            session=session, role=Role.SUBMITTER, facility_code="74001", secret=client.app.state.settings.secret_key
        )  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/xml"}
    cases = {
        "LK1": (_signed(pki.facility, "LK1"), "valid", None),
        "LK2": (tamper_one_byte(_signed(pki.facility, "LK2")), "invalid", "digest_mismatch"),
        "LK3": (_file("LK3"), "unsigned", None),
        "LK4": (_signed(pki.other, "LK4"), "invalid", "certificate_not_registered"),
    }
    for ma_lk, (data, status, reason) in cases.items():
        response = client.post("/api/v1/submissions", content=data, headers=headers)
        assert response.status_code == 201, ma_lk
        body = response.json()
        assert (body["signature"]["status"], body["signature"]["reason"]) == (status, reason), ma_lk
        again = client.get(f"/api/v1/submissions/{body['submission_id']}", headers=headers).json()
        assert again["signature"] == body["signature"]


# --- command line -------------------------------------------------------------------------------------------


def test_cli_registers_lists_removes_and_ingest_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: PKI, migrated_sqlite: Callable[[str], str]
) -> None:
    monkeypatch.setenv("MPI_DATABASE_URL", migrated_sqlite("cli"))
    get_settings.cache_clear()
    runner = CliRunner()
    (tmp_path / "cert.pem").write_bytes(pki.facility.pem)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "signed.xml").write_bytes(_signed(pki.facility, "LK1"))
    (tmp_path / "in" / "tampered.xml").write_bytes(tamper_one_byte(_signed(pki.facility, "LK2")))
    added = runner.invoke(cli, ["facilities", "certificates", "add", "74001", str(tmp_path / "cert.pem")])
    assert added.exit_code == 0, added.output
    assert fingerprint(pki.facility.cert) in added.output
    again = runner.invoke(cli, ["facilities", "certificates", "add", "74001", str(tmp_path / "cert.pem")])
    assert again.exit_code == 2 and "already registered" in again.output
    listed = runner.invoke(cli, ["facilities", "certificates", "list"])
    assert "74001" in listed.output and fingerprint(pki.facility.cert)[:16] in listed.output
    ingested = runner.invoke(cli, ["ingest", str(tmp_path / "in"), "--json", "--workers", "1"])
    report = json.loads(ingested.stdout)
    outcomes = {Path(r["path"]).name: (r["signature"]["status"], r["signature"]["reason"]) for r in report["files"]}
    assert report["totals"]["signatures"] == {"valid": 1, "invalid": 1}
    assert outcomes == {"signed.xml": ("valid", None), "tampered.xml": ("invalid", "digest_mismatch")}
    removed = runner.invoke(cli, ["facilities", "certificates", "remove", "74001", fingerprint(pki.facility.cert)[:10]])
    assert removed.exit_code == 0, removed.output
    assert "74001" not in runner.invoke(cli, ["facilities", "certificates", "list"]).output
    assert "74001" in runner.invoke(cli, ["facilities", "certificates", "list", "--removed"]).output


def test_synth_sign_gives_files_that_verify_once_the_certificates_are_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_sqlite: Callable[[str], str]
) -> None:
    monkeypatch.setenv("MPI_DATABASE_URL", migrated_sqlite("cli"))
    get_settings.cache_clear()
    runner = CliRunner()
    out = tmp_path / "province"
    made = runner.invoke(cli, ["synth", "--persons", "6", "--seed", "3", "--out", str(out), "--sign"])
    assert made.exit_code == 0, made.output
    certificates = sorted((out / "certificates").glob("[0-9]*.pem"))
    assert certificates and (out / "certificates" / "ca.pem").is_file()
    assert not [p for p in (out / "certificates").iterdir() if b"PRIVATE KEY" in p.read_bytes()]
    for pem in certificates:
        assert runner.invoke(cli, ["facilities", "certificates", "add", pem.stem, str(pem)]).exit_code == 0
    report = json.loads(runner.invoke(cli, ["ingest", str(out / "xml"), "--json", "--workers", "1"]).stdout)
    assert report["totals"]["signatures"] == {"valid": report["totals"]["files"]}


def test_a_signed_file_that_cannot_be_canonicalised_is_invalid_not_an_error(pki: PKI) -> None:
    # exporters' malformed xmlns:xsi URI (a space for the hyphen) on the root: the reader accepts the file,
    # libxml2 cannot canonicalise it, so no signature over it can be checked
    signed = _signed(pki.facility)
    quirky = signed.replace(b"XMLSchema-instance", b"XMLSchema instance", 1)
    assert not parse_submission(quirky).rejected
    assert _check(quirky, pki.facility) == ("invalid", "malformed")


def test_reject_policy_through_the_route_and_the_command_line(
    client: TestClient, pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_sqlite: Callable[[str], str]
) -> None:
    monkeypatch.setenv("MPI_SIGNATURE_POLICY", "reject")
    get_settings.cache_clear()
    engine = client.app.state.engine  # type: ignore[attr-defined]
    _register(engine, pki.facility)
    secret = client.app.state.settings.secret_key  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        _, key = create_key(session=session, role=Role.SUBMITTER, facility_code="74001", secret=secret)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/xml"}
    body = client.post("/api/v1/submissions", content=tamper_one_byte(_signed(pki.facility)), headers=headers).json()
    assert (body["outcome"], body["signature"]["reason"]) == ("rejected", "digest_mismatch")
    assert [i["code"] for i in body["issues"]] == ["signature_rejected"]
    assert [e["status"] for e in body["encounters"]] == ["rejected"]
    assert _stored(engine)[0] == 0

    monkeypatch.setenv("MPI_DATABASE_URL", migrated_sqlite("cli"))
    get_settings.cache_clear()
    (tmp_path / "cert.pem").write_bytes(pki.facility.pem)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "tampered.xml").write_bytes(tamper_one_byte(_signed(pki.facility, "LK2")))
    runner = CliRunner()
    assert runner.invoke(cli, ["facilities", "certificates", "add", "74001", str(tmp_path / "cert.pem")]).exit_code == 0
    ingested = runner.invoke(cli, ["ingest", str(tmp_path / "in"), "--json", "--workers", "1"])
    assert ingested.exit_code == 1
    report = json.loads(ingested.stdout)
    assert report["totals"]["errors_by_code"] == {"signature_rejected": 1}
    assert report["totals"]["encounters"]["rejected"] == 1 and report["totals"]["encounters"]["accepted"] == 0


def test_without_a_certificate_in_keyinfo_every_registered_certificate_is_tried(pki: PKI) -> None:
    signed = _signed(pki.facility)
    start, end = signed.index(b"<ds:KeyInfo>"), signed.index(b"</ds:KeyInfo>") + len(b"</ds:KeyInfo>")
    bare = signed[:start] + signed[end:]  # KeyInfo is outside SignedInfo: the signature stays intact
    assert _check(bare, pki.other, pki.facility) == ("valid", None)
    assert _check(bare, pki.other) == ("invalid", "signature_mismatch")
    assert _check(tamper_one_byte(bare), pki.other, pki.facility) == ("invalid", "digest_mismatch")
