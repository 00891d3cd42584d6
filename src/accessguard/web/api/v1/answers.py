"""A JSON answer that no cache may keep, serialised once."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel

_NOT_STORED = {"Cache-Control": "no-store"}


def not_stored(body: BaseModel) -> Response:
    """The body as JSON with `Cache-Control: no-store`. A returned Response skips FastAPI's
    second pass over the model (validation against `response_model`, then dumping), which
    on the busiest routes cost as much as the rest of the answer; `response_model` still
    documents it."""
    return Response(body.model_dump_json(), media_type="application/json", headers=_NOT_STORED)
