"""Fixtures the unit tests share."""
import pytest

from tests.support.queues import RecordingQueue


@pytest.fixture
def queue(app):
    """The app's delivery queue replaced by one that records what it is handed and sends
    nothing."""
    app.extensions["webhooks_queue"] = queue = RecordingQueue()
    return queue
