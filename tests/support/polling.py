"""Waiting for something another thread or process does, and talking htmx to the test client."""
import time

# The header htmx sends with each of its requests: views answer with a fragment.
HX = {"HX-Request": "true"}


def wait_until(condition, timeout=15.0, interval=0.05, message="condition"):
    """Poll condition() until it returns something true; return it or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)
