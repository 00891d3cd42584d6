"""Entry point for uvicorn workers: settings from the environment, app from the factory."""

from __future__ import annotations

from fastapi import FastAPI

from accessguard.settings import Settings
from accessguard.web.app import create_app


def app_from_environment() -> FastAPI:
    return create_app(Settings())
