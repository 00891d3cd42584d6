"""Routers whose paths carry several methods on separate routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send


def router_with_shared_paths(**options: Any) -> APIRouter:
    """An APIRouter whose 405 answers list every method of the path. Starlette lists only the
    first matching route's methods, so POST and DELETE on one path would each hide the other."""
    router = APIRouter(**options)

    class SharedPathRoute(APIRoute):
        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            if self.methods and scope["method"] not in self.methods:
                allowed = {
                    method
                    for route in router.routes
                    if isinstance(route, APIRoute) and route.path == self.path
                    for method in route.methods or ()
                }
                raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
            await super().handle(scope, receive, send)

    router.route_class = SharedPathRoute
    return router
