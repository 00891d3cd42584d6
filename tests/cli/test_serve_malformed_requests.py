"""A request too broken for the HTTP parser, which uvicorn refuses before the app sees it,
still gets the catalogue's envelope from `accessguard serve`, with a reference that its log
line repeats; the server goes on serving."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import served

BROKEN = {
    "a control byte in a header name": b"GET /healthz HTTP/1.1\r\nHost: a\r\nX\x01: 1\r\n\r\n",
    "length given twice, as a number and as chunked": (
        b"POST /api/v1/login HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "a garbled request line": b"GET /healthz HTTP/9\x00\r\n\r\n",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("malformed")
    with served(folder, {}) as (_, url):
        yield url, folder / "serve.log"


def _exchange(url: str, raw: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):  # the server closes the connection after it
            answer += chunk
    return answer


@pytest.mark.parametrize("raw", BROKEN.values(), ids=BROKEN.keys())
def test_a_request_the_parser_refuses_gets_the_envelope_with_a_logged_reference(
    server: tuple[str, Path], raw: bytes
) -> None:
    url, log = server
    head, _, body = _exchange(url, raw).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("ascii").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in header_lines)}
    assert status_line == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert error["code"] == "malformed_request"
    assert error["help_url"].endswith("/help/malformed_request")
    assert error["reference"] == headers["x-request-id"]
    assert f"request_id={error['reference']} status=400" in log.read_text()
    # The refusal closed one connection; the server itself goes on.
    assert httpx.get(url + "/healthz", timeout=5).status_code == 200
