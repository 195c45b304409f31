"""A real HTTPS endpoint on 127.0.0.1 for tests and benchmarks, with a local CA made by trustme."""
import json
import select
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes
    at: float
    ended: float | None = None  # when the answer was written, or the client gave up


def make_ca():
    return trustme.CA()


def server_context(ca, *names):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("localhost", "127.0.0.1"))).configure_cert(ctx)
    return ctx


class Receiver:
    """An HTTPS server that records every request and answers from a script of replies."""

    def __init__(self, ca, host="127.0.0.1", names=("localhost", "127.0.0.1")):
        self.requests = []
        self.open = 0  # requests being answered right now
        self.max_open = 0
        self.script = deque()
        self.default = Reply()
        self._lock = threading.Condition()
        handler = self._handler_class()
        self.server = ThreadingHTTPServer((host, 0), handler)
        self.server.daemon_threads = True
        self.server.socket = server_context(ca, *names).wrap_socket(self.server.socket,
                                                                    server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}/hook"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reply(self, *replies):
        """Answer the next requests with these replies, then with the default."""
        with self._lock:
            self.script.extend(replies)

    def always(self, reply):
        with self._lock:
            self.script.clear()
            self.default = reply

    def wait_for(self, count, timeout=10.0):
        """Wait until count requests have arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._lock.wait(left)
            return list(self.requests)

    def max_open_among(self, received):
        """Return the most of these requests that were open at one moment."""
        edges = sorted([(r.at, 1) for r in received] +
                       [(r.ended if r.ended is not None else float("inf"), -1) for r in received],
                       key=lambda edge: (edge[0], edge[1]))
        most = current = 0
        for _, step in edges:
            current += step
            most = max(most, current)
        return most

    def _next_reply(self):
        with self._lock:
            return self.script.popleft() if self.script else self.default

    def _record(self, received):
        with self._lock:
            self.requests.append(received)
            self.open += 1
            self.max_open = max(self.max_open, self.open)
            self._lock.notify_all()

    def _close(self, received):
        with self._lock:
            received.ended = time.time()
            self.open -= 1

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                received = Received("POST", self.path, headers, body, time.time())
                receiver._record(received)
                try:
                    reply = receiver._next_reply()
                    if reply.delay and self._client_left_within(reply.delay):
                        self.close_connection = True  # the client gave up (timed out)
                        return
                finally:
                    # Closed before the answer is written: the client can send its next request
                    # only after reading this answer, so the count of open requests never
                    # includes one the client already considers answered.
                    receiver._close(received)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def _client_left_within(self, seconds):
                """Wait seconds for the reply's turn; return True if the client hung up meanwhile."""
                readable, _, _ = select.select([self.connection], [], [], seconds)
                return bool(readable)  # a client waiting for its answer sends nothing; EOF is readable

            def log_message(self, *args):
                pass

        return Handler


def json_of(received):
    return json.loads(received.body)
