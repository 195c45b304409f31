"""Helpers for Log History tests: rows of events, deliveries and attempts, and reading the table."""
import json
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

from webhooks.events import build_event, new_delivery
from webhooks.extensions import db
from webhooks.models import Attempt, Delivery

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)


def record(webhook, event_type="job.created", state="succeeded", attempts=(), data=None,
           created_at=None, **delivery_fields):
    """Store an event, its delivery to webhook and the given attempts (dicts of Attempt fields)."""
    event = build_event(webhook.organization, event_type, data or {"job": {"id": 1}})
    if created_at is not None:
        event.created_at = created_at
    delivery = new_delivery(event, webhook)
    delivery.state = state
    delivery.next_attempt_at = None if state != "pending" else delivery_fields.pop("next_attempt_at", T0)
    for name, value in delivery_fields.items():
        setattr(delivery, name, value)
    db.session.add_all([event, delivery])
    db.session.flush()
    for number, fields in enumerate(attempts, start=1):
        start = fields.pop("started_at", T0 + timedelta(minutes=number))
        db.session.add(Attempt(
            delivery_id=delivery.id, number=number, started_at=start,
            finished_at=start + timedelta(milliseconds=fields.get("duration_ms", 120)),
            **{"trigger": "automatic", "succeeded": True, "duration_ms": 120, "url": webhook.url,
               "request_headers": [["Content-Type", "application/json"]],
               "response_status": 200, "response_headers": [["Content-Type", "application/json"]],
               "response_body": '{"ok":true}', "response_body_size": 11, **fields}))
    if attempts and "attempt_count" not in delivery_fields:
        delivery.attempt_count = len(attempts)
        delivery.last_status_code = attempts[-1].get("response_status", 200)
        delivery.last_attempt_at = T0
    db.session.commit()
    return delivery


def ok_attempt(**fields):
    return {"succeeded": True, "response_status": 200, **fields}


def failed_attempt(status=500, **fields):
    return {"succeeded": False, "response_status": status, "response_body": "oops",
            "response_body_size": 4, **fields}


def timeout_attempt(**fields):
    return {"succeeded": False, "response_status": None, "response_headers": None,
            "response_body": None, "response_body_size": None,
            "error": "Timed out after 15 s waiting for a response", **fields}


class LogTable(HTMLParser):
    """Read the Log History table: rows by delivery id, each with its attributes and cell texts."""

    def __init__(self, html):
        super().__init__()
        self.rows = []
        self._row = None
        self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and (attrs.get("id") or "").startswith("delivery-"):
            self._row = {"id": int(attrs["id"].split("-")[1]), "attrs": attrs, "cells": []}
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    @property
    def ids(self):
        return [r["id"] for r in self.rows]

    def row(self, delivery_id):
        return next(r for r in self.rows if r["id"] == delivery_id)


def pretty(payload_text):
    return json.dumps(json.loads(payload_text), indent=2, ensure_ascii=False)


def delivery_count(webhook):
    return db.session.scalar(db.select(db.func.count()).select_from(Delivery)
                             .filter_by(webhook_id=webhook.id))
