"""A real HTTP endpoint on 127.0.0.1 standing in for a team chat's webhook: Apprise's ``json://``
target posts ``{"title", "message", "type", ...}`` to it, exactly as it would to a real one."""

from __future__ import annotations

import base64
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Iterator

from tests.conftest import free_port


class Webhook:
    """What the endpoint received (``posts``: path, basic-auth credentials, JSON body); answers
    ``status`` (200, or e.g. 500 to play a chat service that is down)."""

    def __init__(self):
        self.posts: list[SimpleNamespace] = []
        self.status = 200
        self.port = 0

    def url(self, path: str = "hook", credentials: str = "") -> str:
        return f"json://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}/{path}"

    def messages(self, path: str | None = None) -> list[dict]:
        return [p.body for p in self.posts if path is None or p.path.strip("/") == path.strip("/")]


@contextmanager
def serving() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            auth = self.headers.get("Authorization", "")
            user = base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else ""
            if hook.status == 200:
                hook.posts.append(SimpleNamespace(path=self.path, auth=user, body=body))
            self.send_response(hook.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook.port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", hook.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
