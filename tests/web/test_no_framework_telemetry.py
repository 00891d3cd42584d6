"""FastAPI's built-in OpenTelemetry stays off even when the process has a tracer provider:
it would export request URLs (emailed tokens ride in them) and validation failures that
quote the input (passwords included)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace

from tests.support import PASSWORD


class RecordingTracer(trace.NoOpTracer):
    def __init__(self, started: list[str]) -> None:
        self.started = started

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> trace.Span:
        self.started.append(name)
        return super().start_span(name, *args, **kwargs)


class RecordingTracerProvider(trace.TracerProvider):
    """A configured provider, as an operator's OpenTelemetry set-up would install."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return RecordingTracer(self.started)


def test_no_request_is_traced_by_the_framework_when_a_tracer_provider_is_set(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = RecordingTracerProvider()
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    assert trace.get_tracer_provider() is provider

    client.post("/api/v1/login", json={"email": "ada@example.com", "password": PASSWORD})
    client.post("/api/v1/login", json={"email": ["not", "an", "email"], "password": PASSWORD})
    client.get("/reset-password?token=a-token-from-an-email")

    assert provider.started == []
