"""Serving the app (or a stand-in host page) on 127.0.0.1 from a thread, for browsers to load."""
import socket
import threading
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def serving(server):
    """Run server.serve_forever in a thread; shut the server down and close it afterwards."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def free_port():
    """Return a port of 127.0.0.1 that nothing listens on (for a server started later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_server(app, ssl_context=None):
    """Return a threaded WSGI server for app on a free port of 127.0.0.1 (https with a context)."""
    return make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context)
