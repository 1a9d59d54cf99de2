"""A real HTTP server on 127.0.0.1 that webhook tests call, and that records every request.

    target = TargetServer()
    target.respond("/slow", delay=2)
    target.respond("/flaky", [Reply(500), Reply(200, b"ok")])  # one per request, last repeats
    url = target.url("/flaky")
"""
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    stream_bytes: int = 0  # send this many bytes of body instead of `body`, in chunks
    close: bool = False  # drop the connection without answering


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes
    at: float  # time.time()


class TargetServer:
    def __init__(self):
        self.requests: list[Received] = []
        self._replies: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self):
        return self._server.server_address[1]

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def respond(self, path, replies=None, **reply):
        if replies is None:
            replies = [Reply(**reply)]
        elif isinstance(replies, Reply):
            replies = [replies]
        with self._lock:
            self._replies[path] = list(replies)

    def received(self, path=None):
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, count, path=None, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"expected {count} request(s) to {path or 'any path'}, got {len(self.received(path))}")

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self, path):
        with self._lock:
            queue = self._replies.get(path.split("?")[0]) or [Reply()]
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server._lock:
                    server.requests.append(
                        Received(self.command, self.path, dict(self.headers.items()), body, time.time())
                    )
                reply = server._next_reply(self.path)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.close:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.stream_bytes:
                    self.send_header("Content-Length", str(reply.stream_bytes))
                    self.end_headers()
                    chunk = b"x" * 65536
                    sent = 0
                    try:
                        while sent < reply.stream_bytes:
                            self.wfile.write(chunk[: reply.stream_bytes - sent])
                            sent += len(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client stopped reading, as it should
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        return Handler
