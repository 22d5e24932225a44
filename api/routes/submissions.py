"""``/api/v1/submissions``: receive GIAMDINHHS files from facilities and answer receipts."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request, Response, status
from starlette.datastructures import UploadFile
from starlette.types import Message, Receive

from api.deps import EngineDep, SettingsDep, SubmitterDep
from api.intake import Intake
from api.params import DbId
from api.principal import Principal
from api.schemas import ErrorOut
from mpi.errors import MPIError, NotFound, PermissionDenied
from mpi.ingest import get_receipt
from mpi.keys import Role
from mpi.receipts import Receipt
from mpi.xml130 import Limits

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"])

_XML_TYPES = ("application/xml", "text/xml")
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    413: {"model": ErrorOut},
    415: {"model": ErrorOut},
}


class PayloadTooLarge(MPIError):
    code = "file_too_large"
    status = 413


class UnsupportedMediaType(MPIError):
    code = "unsupported_media_type"
    status = 415


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _file_bytes(request: Request, max_file: int) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _XML_TYPES:
        return await _read_bounded(request, max_file)
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # Bound the whole body before parsing: the form parser would spool a file part of any size to
        # disk, and answers 400 for an oversized field. Base64 (4/3), percent-encoding and line breaks
        # stay well under twice the file.
        form_limit = max_file * 2 + 65536
        body = await _read_bounded(request, form_limit)
        form_request = Request(request.scope, _replay(body))
        async with form_request.form(max_files=1, max_fields=16, max_part_size=form_limit) as form:
            upload = form.get("file")
            if isinstance(upload, UploadFile):
                data = await upload.read(max_file + 1)
                if len(data) > max_file:
                    raise PayloadTooLarge(f"the file exceeds {max_file} bytes")
                return data
            encoded = form.get("fileHSBase64")
            if isinstance(encoded, str):
                try:
                    data = base64.b64decode("".join(encoded.split()), validate=True)
                except (binascii.Error, ValueError):
                    raise MPIError("fileHSBase64 is not valid base64", code="base64_invalid") from None
                if len(data) > max_file:
                    raise PayloadTooLarge(f"the file exceeds {max_file} bytes")
                return data
        raise MPIError("send the file in the form field 'file' or 'fileHSBase64'", code="file_missing")
    raise UnsupportedMediaType(
        "send the XML as application/xml, as multipart/form-data field 'file', or base64 in field 'fileHSBase64'"
    )


@router.post(
    "",
    response_model=Receipt,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": Receipt, "description": "The same file was received before: its original receipt"},
        **_ERRORS,
    },
    summary="Submit one GIAMDINHHS file",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/xml": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                },
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {"fileHSBase64": {"type": "string"}}}
                },
            }
        }
    },
)
async def submit(
    request: Request, response: Response, principal: SubmitterDep, engine: EngineDep, settings: SettingsDep
) -> Receipt:
    """Validate and store the file; answer a receipt with every encounter's status and issues."""
    data = await _file_bytes(request, settings.max_file_bytes)
    allowed = principal.facility_code if principal.role is Role.SUBMITTER else None
    intake: Intake = request.app.state.intake
    receipt = await intake.receive(
        data, submitter=principal.submitter_tag, allowed_facility=allowed, limits=Limits.from_settings(settings)
    )
    if receipt.duplicate:
        _check_own(principal, receipt)
        response.status_code = status.HTTP_200_OK
    return receipt


def _check_own(principal: Principal, receipt: Receipt) -> None:
    """A submitter gets the receipt of a file sent before only when the file is its own facility's: a copy
    of another facility's file must not answer that facility's encounters."""
    if principal.role is not Role.SUBMITTER:
        return
    facilities = {receipt.facility_code, *(e.facility_code for e in receipt.encounters)} - {None}
    if facilities - {principal.facility_code}:
        raise PermissionDenied("this file was received before from another facility", code="facility_forbidden")


@router.get("/{submission_id}", response_model=Receipt, responses={404: {"model": ErrorOut}, **_ERRORS})
def read_receipt(submission_id: DbId, principal: SubmitterDep, engine: EngineDep) -> Receipt:
    """The receipt of an earlier submission (the submitting facility's keys, or an admin)."""
    receipt = get_receipt(engine=engine, submission_id=submission_id)
    if receipt is None:
        raise NotFound(f"no submission {submission_id}")
    _check_own(principal, receipt)
    return receipt
