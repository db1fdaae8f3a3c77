"""A stand-in Kubernetes API server for tests: records every request, answers from a function.

It speaks plain HTTP on 127.0.0.1 (an ephemeral port), and :meth:`StubAPIServer.kubeconfig`
writes a kubeconfig that points the real ``kubernetes`` client at it, with a bearer token the
test can look for. The answer function gets a :class:`Request` and returns ``(status, body)``;
an unknown request gets a 404 ``Status``, as the API server sends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "stub-token"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Answer = Callable[[Request], tuple[int, Any]]


def status(code: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
    """An API ``Status`` answer."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return code, body


def not_found(request: Request) -> tuple[int, Any]:
    return status(404, "NotFound", f"the server could not find {request.path}")


class StubAPIServer:
    def __init__(self, answer: Answer = not_found) -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=split.path,
                    query=parse_qs(split.query),
                    body=json.loads(raw) if raw else None,
                    headers={key.lower(): value for key, value in self.headers.items()},
                )
                with stub._lock:
                    stub.requests.append(request)
                code, body = stub.answer(request)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def kubeconfig(self, directory: Path) -> str:
        """Write a kubeconfig for this server into *directory*; returns its path."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stub", "cluster": {"server": self.url}}],
            "users": [{"name": "stub", "user": {"token": TOKEN}}],
            "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub"}}],
            "current-context": "stub",
        }
        path = directory / "kubeconfig"
        path.write_text(json.dumps(config), encoding="utf-8")
        return str(path)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=30)


@contextmanager
def running(answer: Answer = not_found) -> Iterator[StubAPIServer]:
    server = StubAPIServer(answer)
    server.start()
    try:
        yield server
    finally:
        server.stop()
