"""A JSON answer serialised once. No cache keeps it: SecurityHeadersMiddleware marks every
API answer no-store."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def json_answer(body: BaseModel) -> Response:
    """The body as JSON. A returned Response skips FastAPI's second pass over the model
    (validation against `response_model`, then dumping), which on the busiest routes cost as
    much as the rest of the answer; `response_model` still documents it."""
    return Response(body.model_dump_json(), media_type="application/json")
