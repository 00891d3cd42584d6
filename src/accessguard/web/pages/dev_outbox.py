"""/dev/outbox: the messages the development channels 'sent', for trying flows locally.

Registered only when ACCESSGUARD_ENV=development: it shows live links with tokens.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from accessguard.bootstrap import Services
from accessguard.storage.sql.tables import dev_mailbox
from accessguard.web.deps import services
from accessguard.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/dev/outbox", response_class=HTMLResponse)
def outbox(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    with svc.engine.connect() as conn:
        messages = (
            conn.execute(sa.select(dev_mailbox).order_by(dev_mailbox.c.id.desc()).limit(100))
            .mappings()
            .all()
        )
    return templates.TemplateResponse(
        request, "dev_outbox.html", {"messages": messages}, headers={"Cache-Control": "no-store"}
    )
