"""Response models: what leaves the process (the submission receipt is `mpi.receipts.Receipt`, stored as answered)."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


class EncounterPersonOut(BaseModel):
    """Who an encounter belongs to: keys, person id and link evidence only, no demographics."""

    facility_code: str = Field(description="MA_CSKCB")
    ma_lk: str = Field(description="MA_LK")
    version: int = Field(description="the current (newest stored) version of the encounter")
    person_id: int = Field(description="the person, after merges (a merged person's id redirects)")
    link_state: str = Field(description="auto, manual or review (pending a steward)")
    match_probability: float | None = Field(description="the newest link's model probability, if a model scored it")
    model_id: str | None = Field(description="the linkage model that scored it")


def json_answer(model: BaseModel) -> Response:
    """``model`` answered as the JSON FastAPI writes for a route's ``response_model`` (by alias, nothing left
    out), built in the route's worker thread: returned as a model from a plain-function route, it would be
    validated again (its constructor did already) in one more worker-thread hop, off the event loop and back,
    before being written."""
    return Response(content=model.model_dump_json(by_alias=True), media_type="application/json")
