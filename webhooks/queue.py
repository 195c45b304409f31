"""The pluggable queue: one small interface, an inline (embedded) and an RQ backend.

The database is the source of truth: a backend only carries delivery ids to a worker.
"""
from flask import current_app


class InlineQueue:
    """Placeholder until the delivery engine lands: work stays due in the database."""

    def submit(self, delivery_ids):
        """Hand due deliveries to a worker."""

    def submit_manual(self, delivery_id):
        """Send one manual attempt of a delivery now."""


def init_app(app):
    app.extensions["webhooks_queue"] = InlineQueue()


def get_queue():
    return current_app.extensions["webhooks_queue"]
