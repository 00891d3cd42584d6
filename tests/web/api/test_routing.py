"""The busiest API paths are matched first: FastAPI tries an app's routes in order and matches
an included router's routes once more at each level it is nested in, so where /me and sign-in
sit decides how much of every request goes to finding them (docs/performance.md, session 26)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter
from starlette.routing import BaseRoute, Match

from accessguard.bootstrap import Services
from accessguard.web.api.v1 import me, signin
from accessguard.web.app import create_app


@pytest.fixture
def backend(sqlite_backend: dict[str, Any]) -> dict[str, Any]:
    """SQLite only: no request is sent; only the app's routes are looked at."""
    return sqlite_backend


@pytest.fixture
def routes(services: Services) -> list[BaseRoute]:
    return create_app(services=services, run_outbox_worker=False).router.routes


def _first_match(routes: list[BaseRoute], method: str, path: str) -> tuple[int, BaseRoute]:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for position, route in enumerate(routes):
        if route.matches(scope)[0] == Match.FULL:
            return position, route
    raise AssertionError(f"nothing matches {method} {path}")


@pytest.mark.parametrize(
    ("method", "path", "router"),
    [("GET", "/api/v1/me", me.router), ("POST", "/api/v1/login", signin.router)],
)
def test_the_busiest_api_paths_are_found_in_their_own_router_at_the_head_of_the_app(
    routes: list[BaseRoute], method: str, path: str, router: APIRouter
) -> None:
    position, route = _first_match(routes, method, path)
    # After FastAPI's own /openapi.json, nothing before them but each other, and no parent
    # router between the app and theirs.
    assert position <= 2
    assert getattr(route, "original_router", None) is router
