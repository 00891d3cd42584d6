"""Version 1 of the JSON API (API.md)."""

from __future__ import annotations

from fastapi import APIRouter

from accessguard.web.api.v1 import (
    accounts,
    admin,
    catalogue,
    me,
    mfa,
    mfa_sms,
    password,
    recovery,
    recovery_codes,
    signin,
)
from accessguard.web.api.v1.schemas import ErrorOut

router = APIRouter(
    prefix="/api/v1",
    responses={
        400: {"model": ErrorOut},
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
        413: {"model": ErrorOut},
        415: {"model": ErrorOut},
        422: {"model": ErrorOut},
        423: {"model": ErrorOut},
        429: {"model": ErrorOut},
        503: {"model": ErrorOut},
    },
)
for module in (
    accounts,
    signin,
    me,
    mfa,
    mfa_sms,
    recovery_codes,
    password,
    recovery,
    admin,
    catalogue,
):
    router.include_router(module.router)
