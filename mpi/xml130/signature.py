"""The facility's digital signature of a GIAMDINHHS file (``CHUKYDONVI``), checked with SignXML.

The form checked is what HIS signing tools produce for QĐ 130 exports: an XMLDSig *enveloped* signature
placed inside ``CHUKYDONVI`` (the last child of the root), with one ``Reference URI=""`` (the whole
document, minus the signature itself through the enveloped-signature transform), so that everything the
hub reads from the file — THONGTINDONVI, THONGTINHOSO and every base64 table — is covered. The key is an
X.509 certificate, normally carried in ``KeyInfo/X509Data``; SHA-256 or stronger (SHA-1 is refused).

Trust comes from the facility's registered certificates (:mod:`mpi.facilities.certificates`), never from
the certificate the file carries: a certificate in ``KeyInfo`` must be one of them. Outcomes:

- ``unsigned`` — ``CHUKYDONVI`` is empty or absent (every real export seen so far);
- ``no_certificate`` — signed, but the facility has no registered certificate to check it against;
- ``valid`` — the signature verifies with a registered certificate valid at the time of checking;
- ``invalid`` — anything else, with a specific :data:`REASONS` code.

Pure: no store, no logging of file content.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, XMLVerifier

from linkage.pickling import by_fields

Status = Literal["valid", "invalid", "unsigned", "no_certificate"]

DSIG: Final = "http://www.w3.org/2000/09/xmldsig#"
_NS: Final = {"ds": DSIG}
_ENVELOPED: Final = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_LOCATION: Final = "./CHUKYDONVI/"

REASONS: Final[dict[str, tuple[str, str]]] = {
    "not_xmldsig": (
        "CHUKYDONVI không chứa chữ ký XMLDSig (ds:Signature)",
        "CHUKYDONVI holds no XMLDSig signature (ds:Signature)",
    ),
    "several_signatures": ("CHUKYDONVI chứa nhiều hơn một chữ ký", "CHUKYDONVI holds more than one signature"),
    "reference_scope": (
        'chữ ký không bao trùm toàn bộ tệp (cần một Reference URI="" với biến đổi enveloped-signature)',
        'the signature does not cover the whole file (one Reference URI="" with the enveloped-signature '
        "transform is required)",
    ),
    "algorithm_not_accepted": (
        "thuật toán ký hoặc băm không được chấp nhận (cần SHA-256 trở lên)",
        "signature or digest algorithm not accepted (SHA-256 or stronger is required)",
    ),
    "certificate_unreadable": (
        "không đọc được chứng thư số trong chữ ký",
        "the certificate in the signature cannot be read",
    ),
    "certificate_not_registered": (
        "chữ ký dùng chứng thư số chưa được đăng ký cho cơ sở này",
        "signed with a certificate not registered for this facility",
    ),
    "certificate_expired": ("chứng thư số đã hết hạn", "the certificate has expired"),
    "certificate_not_yet_valid": ("chứng thư số chưa có hiệu lực", "the certificate is not yet valid"),
    "digest_mismatch": (
        "nội dung tệp đã bị thay đổi sau khi ký",
        "the file's content was changed after it was signed",
    ),
    "signature_mismatch": (
        "giá trị chữ ký không khớp với chứng thư số đã đăng ký",
        "the signature value does not verify with the registered certificate",
    ),
    "malformed": ("chữ ký số không đúng cấu trúc XMLDSig", "the signature is not well-formed XMLDSig"),
}
"""Why a signature is ``invalid``: code -> (Vietnamese, English)."""

# SHA-1 and weaker stay refused (SignXML's own default); the accepted set, named for the reader.
_CONFIG: Final = SignatureConfiguration(location=_LOCATION, expect_references=1)


@by_fields
@dataclass(frozen=True, slots=True)
class SignatureCheck:
    status: Status
    reason: str | None = None
    """A :data:`REASONS` code when ``invalid``."""
    certificate: str | None = None
    """SHA-256 fingerprint (hex) of the registered certificate the signature was checked against."""

    def as_dict(self) -> dict[str, str | None]:
        return {"status": self.status, "reason": self.reason, "certificate": self.certificate}


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _invalid(reason: str, cert: x509.Certificate | None = None) -> SignatureCheck:
    return SignatureCheck("invalid", reason, fingerprint(cert) if cert is not None else None)


def _parser() -> etree.XMLParser:
    # The file already passed the hardened envelope parse (DOCTYPE refused, size bounded); this one keeps
    # processing instructions and comments, which canonicalisation must see as the signer did.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def check_signature(
    data: bytes,
    signature: bytes | None,
    certificates: Sequence[x509.Certificate],
    *,
    at: datetime,
) -> SignatureCheck:
    """Check the file ``data`` whose serialised ``CHUKYDONVI`` element is ``signature`` (as the envelope
    reader extracted it; ``None`` when empty) against the facility's registered ``certificates`` at ``at``."""
    if signature is None:
        return SignatureCheck("unsigned")
    try:
        element = etree.fromstring(signature, _parser())
    except etree.XMLSyntaxError:
        return _invalid("malformed")
    signatures = element.findall("ds:Signature", _NS)
    if not signatures:
        return _invalid("not_xmldsig")
    if len(signatures) > 1:
        return _invalid("several_signatures")
    sig = signatures[0]
    references = sig.findall("ds:SignedInfo/ds:Reference", _NS)
    transforms = [t.get("Algorithm") for r in references for t in r.findall("ds:Transforms/ds:Transform", _NS)]
    if len(references) != 1 or references[0].get("URI") != "" or _ENVELOPED not in transforms:
        return _invalid("reference_scope")
    if not certificates:
        return SignatureCheck("no_certificate")
    carried = sig.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=_NS)
    candidates = list(certificates)
    if carried is not None:
        try:
            cert = x509.load_der_x509_certificate(_b64(carried))
        except ValueError:
            return _invalid("certificate_unreadable")
        registered = {fingerprint(c): c for c in certificates}
        match = registered.get(fingerprint(cert))
        if match is None:
            return _invalid("certificate_not_registered")
        candidates = [match]
    outcome: SignatureCheck | None = None
    for cert in candidates:
        result = _verify_with(data, cert, at)
        if result.status == "valid":
            return result
        outcome = outcome if outcome is not None and outcome.reason != "signature_mismatch" else result
    assert outcome is not None
    return outcome


def _b64(text: str) -> bytes:
    return base64.b64decode("".join(text.split()), validate=True)


def _verify_with(data: bytes, cert: x509.Certificate, at: datetime) -> SignatureCheck:
    if at < cert.not_valid_before_utc:
        return _invalid("certificate_not_yet_valid", cert)
    if at > cert.not_valid_after_utc:
        return _invalid("certificate_expired", cert)
    try:
        XMLVerifier().verify(data, x509_cert=cert, parser=_parser(), expect_config=_CONFIG)
    except InvalidDigest:
        return _invalid("digest_mismatch", cert)
    except InvalidCertificate:
        return _invalid("certificate_unreadable", cert)
    except InvalidSignature:
        return _invalid("signature_mismatch", cert)
    except InvalidInput as exc:
        forbidden = "forbidden by configuration" in str(exc)
        return _invalid("algorithm_not_accepted" if forbidden else "malformed", cert)
    except (etree.LxmlError, ValueError, KeyError):
        # e.g. an envelope declaring an invalid namespace URI, which libxml2 reads but cannot canonicalise
        return _invalid("malformed", cert)
    return SignatureCheck("valid", None, fingerprint(cert))


def sign_envelope(
    data: bytes, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, chain: Sequence[x509.Certificate]
) -> bytes:
    """Sign a GIAMDINHHS file as HIS signing tools do: an enveloped signature inside ``CHUKYDONVI``,
    ``Reference URI=""``, RSA/ECDSA-SHA256, inclusive C14N, the certificate ``chain`` in ``KeyInfo``.

    For the synthetic generator and tests (``key`` is a ``cryptography`` private key). The file must
    have a ``CHUKYDONVI`` element (empty).
    """
    from signxml.algorithms import CanonicalizationMethod, SignatureMethod
    from signxml.signer import XMLSigner

    root = etree.fromstring(data, _parser())
    holder = root.find("CHUKYDONVI")
    if holder is None:
        raise ValueError("the file has no CHUKYDONVI element to hold the signature")
    for child in list(holder):
        holder.remove(child)
    holder.text = None
    etree.SubElement(holder, f"{{{DSIG}}}Signature", Id="placeholder", nsmap={"ds": DSIG})
    method = SignatureMethod.RSA_SHA256 if isinstance(key, rsa.RSAPrivateKey) else SignatureMethod.ECDSA_SHA256
    signer = XMLSigner(
        signature_algorithm=method,
        digest_algorithm="sha256",
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
    )
    signed = signer.sign(root, key=key, cert=list(chain))
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="utf-8"))
