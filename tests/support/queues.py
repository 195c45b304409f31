"""A stand-in for the delivery queue: it records what the app hands it and sends nothing."""
import threading


class RecordingQueue:
    """submitted: the delivery ids of each submit call; manual: each requested resend's id.
    With fail=True it behaves like a queue that is down (Redis away)."""

    def __init__(self, fail=False):
        self.submitted, self.manual, self.fail = [], [], fail
        self._lock = threading.Lock()  # ingest tests hand work over from many threads

    def submit(self, delivery_ids):
        self._check()
        with self._lock:
            self.submitted.append(list(delivery_ids))

    def submit_manual(self, delivery_id):
        self._check()
        with self._lock:
            self.manual.append(delivery_id)

    def _check(self):
        if self.fail:
            raise ConnectionError("queue is down")
