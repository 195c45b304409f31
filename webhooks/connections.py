"""How attempts hold their connections: one verifying SSLContext per CA bundle for the whole
process, and a watchdog that shuts the socket of any request past its total deadline.

Plain Python, used by webhooks.sender.
"""
import os
import socket
import ssl
import threading
import time

import urllib3
import urllib3.connection
import urllib3.util.ssl_

_current = threading.local()  # the deadline of the request this thread has in flight


class _Deadline:
    __slots__ = ("at", "connection", "expired")

    def __init__(self, at):
        self.at, self.connection, self.expired = at, None, False


class _TrackedHTTPSConnection(urllib3.connection.HTTPSConnection):
    """Let the thread's deadline know which connection carries its request (new or kept alive)."""

    def connect(self):
        self._track()
        return super().connect()

    def request(self, *args, **kwargs):
        self._track()
        return super().request(*args, **kwargs)

    def _track(self):
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.connection = self


class _TrackedHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection

    def _new_conn(self):
        # One SSLContext per CA bundle for the whole process: left alone, urllib3 parses the
        # bundle into a fresh context for every connection (about 1 MiB each, so a waiting
        # attempt would cost that much; and a few ms of CPU per new connection).
        if self.ca_certs and "ssl_context" not in self.conn_kw:
            self.conn_kw["ssl_context"] = _verifying_context(self.ca_certs)
        bundle, self.ca_certs = self.ca_certs, None
        try:
            return super()._new_conn()
        finally:
            self.ca_certs = bundle


_contexts = {}
_contexts_lock = threading.Lock()


def _verifying_context(bundle):
    """Return the process's SSLContext that trusts exactly the CAs in the bundle file."""
    key = (bundle, os.path.getmtime(bundle))
    with _contexts_lock:
        if key not in _contexts:
            context = urllib3.util.ssl_.create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
            context.load_verify_locations(bundle)
            _contexts[key] = context
        return _contexts[key]


TRACKED_POOLS = {"http": urllib3.HTTPConnectionPool, "https": _TrackedHTTPSConnectionPool}


class _Watchdog:
    """One thread per process that shuts the socket of any request past its total deadline."""

    def __init__(self, tick=0.1):
        self.tick = tick
        self._armed = set()
        self._lock = threading.Lock()
        self._pid = None

    def arm(self, at):
        deadline = _Deadline(at)
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child without the thread
                self._pid = os.getpid()
                self._armed.clear()
                threading.Thread(target=self._run, name="webhooks-deadline", daemon=True).start()
            self._armed.add(deadline)
        _current.deadline = deadline
        return deadline

    def disarm(self, deadline):
        _current.deadline = None
        with self._lock:
            self._armed.discard(deadline)

    def _run(self):
        while True:
            time.sleep(self.tick)
            now = time.monotonic()
            with self._lock:
                for deadline in [d for d in self._armed if d.at <= now]:
                    self._armed.discard(deadline)
                    deadline.expired = True
                    sock = getattr(deadline.connection, "sock", None)
                    if sock is not None:
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:  # already closed
                            pass


watchdog = _Watchdog()
