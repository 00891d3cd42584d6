"""uvicorn's HTTP/1.1 protocol, except that a request it cannot parse gets the catalogue's
envelope.

Why: uvicorn refuses broken HTTP framing itself (bytes not allowed in a header, a length given
both as Content-Length and as chunked, a garbled request line) before the app sees anything,
and its answer is a plain-text 400 with no reference. The contract wants every non-2xx answer
in the error envelope, with a reference that the server's log line repeats: this is that
answer. The connection is closed after it, as uvicorn does, since the rest of the stream can
no longer be trusted to start a request.
"""

from __future__ import annotations

import json
import logging
import secrets

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from accessguard.domain.errors import MalformedRequest
from accessguard.web.errors import envelope_parts

log = logging.getLogger("accessguard.request")


class EnvelopeHttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        request_id = secrets.token_hex(8)
        body, headers = envelope_parts(MalformedRequest(), request_id)
        content = json.dumps(body).encode()
        lines = [STATUS_LINE[400]]
        for raw_name, raw_value in self.server_state.default_headers:
            lines += [raw_name, b": ", raw_value, b"\r\n"]
        for name, value in {
            **headers,
            "Content-Type": "application/json",
            "Content-Length": str(len(content)),
            "X-Content-Type-Options": "nosniff",
            "Connection": "close",
        }.items():
            lines += [name.encode("ascii"), b": ", value.encode("ascii"), b"\r\n"]
        self.transport.write(b"".join([*lines, b"\r\n", content]))
        self.transport.close()
        # Nothing of the request itself: what could not be parsed could be anything.
        log.info("request_id=%s status=400 code=%s", request_id, MalformedRequest.code.value)
