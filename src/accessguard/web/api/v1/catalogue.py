"""The error catalogue, served so clients can map every code to words and help."""

from __future__ import annotations

from fastapi import APIRouter

from accessguard.domain.catalogue import CATALOGUE
from accessguard.web.api.v1.schemas import CatalogueItem

router = APIRouter(tags=["errors"])


@router.get("/errors", response_model=list[CatalogueItem])
def errors() -> list[CatalogueItem]:
    return [
        CatalogueItem(code=e.code.value, status=e.status, message=e.message, help_url=e.help_url)
        for e in CATALOGUE.values()
    ]
