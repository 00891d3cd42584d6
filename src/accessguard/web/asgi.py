"""Entry point for uvicorn workers: settings from the environment, app from the factory."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from accessguard.settings import Settings
from accessguard.web.app import create_app


def app_from_environment() -> FastAPI:
    # Worker processes start without the parent's logging set-up; request lines carry the
    # reference that error bodies show, so they must be written.
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    return create_app(Settings())
