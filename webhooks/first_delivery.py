"""Seeing deliveries work from the command line: the demo webhook that sends to the local
receiver (`flask --app app demo`), `flask --app app trigger`, and waiting for the first
attempts of what they started so the terminal shows how each went.
"""
import socket
import time
from datetime import datetime, timezone

import click
from flask import current_app, url_for

from . import audit, catalog, ingest, lifecycle, local_receiver, queue
from .batch import Pump
from .config import setting
from .extensions import db
from .models import Attempt, Delivery, Event, Organization, Webhook

DEMO_WEBHOOK_NAME = "Local receiver"


# --- Waiting for first attempts ----------------------------------------------------------------


def wait_timeout():
    """How long the first attempts can take: connecting, the whole attempt, and a margin."""
    return setting("WEBHOOKS_CONNECT_TIMEOUT_SECONDS") + setting("WEBHOOKS_TIMEOUT_SECONDS") + 5


def await_first_attempts(delivery_ids, timeout):
    """Wait until each delivery has an attempt (or is no longer pending), at most timeout
    seconds; return {delivery id: its latest Attempt or None}."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()  # a fresh snapshot: the sending threads commit elsewhere
        rows = db.session.execute(db.select(Delivery.id, Delivery.attempt_count, Delivery.state)
                                  .where(Delivery.id.in_(delivery_ids))).all()
        if all(count > 0 or state != Delivery.PENDING for _, count, state in rows) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    latest = {}
    for attempt in db.session.scalars(db.select(Attempt).where(Attempt.delivery_id.in_(delivery_ids))
                                      .order_by(Attempt.number)):
        latest[attempt.delivery_id] = attempt
    return {delivery_id: latest.get(delivery_id) for delivery_id in delivery_ids}


def send_and_report(record, echo=click.echo):
    """Run record(), which stores deliveries and returns their ids; send them now; print one
    line per delivery: its answer, or why it failed and when it is tried again.

    With the inline queue this command sends them itself, then stops sending (the serving
    process's own threads send later retries); with RQ the workers send them.
    """
    backend = queue.get_queue()
    if isinstance(backend, queue.InlineQueue):
        with backend.paused():
            delivery_ids = record()
        if delivery_ids:
            pump = Pump(current_app._get_current_object(), slots=16, name="webhooks-command")
            try:
                pump.run_until_idle(wait_timeout())
            finally:
                pump.stop()
    else:
        delivery_ids = record()
    outcomes = await_first_attempts(delivery_ids, wait_timeout()) if delivery_ids else {}
    for delivery_id, attempt in outcomes.items():
        delivery = db.session.get(Delivery, delivery_id)
        echo(f"  → {delivery.event_type} to {delivery.webhook.name} ({delivery.webhook.url}): "
             f"{_outcome(delivery, attempt)}")
    return outcomes


def _outcome(delivery, attempt):
    if attempt is None:
        if delivery.state == Delivery.CANCELLED:
            return f"cancelled: {delivery.cancel_reason}"
        return ("not sent yet: no worker took it in time (with WEBHOOKS_QUEUE=rq, is "
                "`flask --app app worker` running?)")
    answer = f"{attempt.response_status}" if attempt.response_status else attempt.error
    if attempt.succeeded:
        return f"{answer} in {attempt.duration_ms} ms"
    if delivery.state == Delivery.PENDING and delivery.next_attempt_at:
        wait = delivery.next_attempt_at - datetime.now(timezone.utc)
        minutes = max(1, round(wait.total_seconds() / 60))
        return (f"failed: {answer}. Attempt {attempt.number + 1} in about {minutes} minute"
                f"{'s' if minutes != 1 else ''}.")
    return f"failed: {answer}."


def log_history_url(webhook):
    """Return the address of the webhook's Log History, for a terminal."""
    with current_app.test_request_context(base_url=current_app.config["WEBHOOKS_BASE_URL"]):
        return url_for("log_history.log", slug=webhook.organization.slug, webhook_id=webhook.id,
                       _external=True)


# --- The demo webhook ------------------------------------------------------------------------


def ensure_demo_webhook(org, wait_seconds=0.0, echo=click.echo):
    """Give org a webhook to the local receiver, subscribed to everything, and turn it on once
    the receiver answers (waiting up to wait_seconds for it to start): its test event then
    shows that it does. Returns the webhook, or None in production. Once there, it is left as
    it is."""
    receiver = local_receiver.of(current_app)
    if receiver is None:
        return None
    webhook = next((w for w in db.session.scalars(
        db.select(Webhook).where(Webhook.organization_id == org.id, Webhook.deleted_at.is_(None))
        .order_by(Webhook.id)) if receiver.serves(w.url)), None)
    if webhook is not None:
        echo(f"Demo webhook: {webhook.name} → {webhook.url} ({'on' if webhook.is_active else 'off'})")
        return webhook
    audit.act_as(audit.COMMAND_LINE)
    webhook = Webhook(organization_id=org.id, name=DEMO_WEBHOOK_NAME, url=receiver.webhook_url,
                      event_types=list(catalog.SUBSCRIBABLE))
    lifecycle.create(webhook)
    echo(f"Demo webhook: {webhook.name} → {webhook.url}, every event type")
    if not _answering(receiver, wait_seconds):
        echo(f"  The local receiver does not answer at {receiver.url}: start it with "
             "`flask --app app listen`, then turn the webhook on in the Webhooks tab.")
        return webhook
    echo("  Turned on; its test event (webhook.ping):")
    send_and_report(lambda: [lifecycle.activate(webhook).id], echo)
    return webhook


def _answering(receiver, timeout):
    """Wait until something accepts connections on the receiver's port (at most timeout s)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((local_receiver.HOST, receiver.port), timeout=0.5):
                return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


# --- trigger ---------------------------------------------------------------------------------


@click.command("trigger")
@click.argument("event_type", metavar="TYPE", required=False)
@click.option("--org", "org_slug", required=True, help="The organization (its slug).")
@click.option("--all", "every", is_flag=True, help="Send one event of each type.")
def trigger_command(event_type, org_slug, every):
    """Send the catalog's example of TYPE to an organization, through ingest like the host's
    events (fan-out, signing, retries), and show how the first attempts went."""
    if bool(event_type) == every:
        raise click.UsageError("Give one event TYPE, or --all.")
    if event_type and event_type not in catalog.SUBSCRIBABLE:
        raise click.UsageError(f"Unknown event type {event_type!r}; one of: "
                               + ", ".join(catalog.SUBSCRIBABLE))
    org = db.session.scalar(db.select(Organization).filter_by(slug=org_slug))
    if org is None:
        raise click.UsageError(f"No organization {org_slug!r}.")
    types = catalog.SUBSCRIBABLE if every else (event_type,)
    outcomes = send_and_report(lambda: [delivery_id for name in types
                                        for delivery_id in _send_example(org, name)])
    if not outcomes:
        click.echo("No active webhook of this organization is subscribed: nothing to deliver.")
        return
    webhooks = {db.session.get(Delivery, d).webhook for d in outcomes}
    for webhook in sorted(webhooks, key=lambda w: w.id):
        click.echo(f"Log History of {webhook.name}: {log_history_url(webhook)}")


def _send_example(org, event_type):
    """Record the example event through ingest; print it; return its delivery ids."""
    document = {"organization_id": org.slug, "type": event_type,
                "occurred_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                "data": catalog.BY_TYPE[event_type].example}
    answer, status = ingest.record(document)
    if status >= 400:  # the catalog's own example refused: a bug worth showing plainly
        raise click.ClickException(f"{event_type}: ingest answered {status}: {answer}")
    count = answer["deliveries"]
    click.echo(f"{event_type}: event {answer['event_id']}, {count} deliver{'y' if count == 1 else 'ies'}")
    return db.session.scalars(db.select(Delivery.id).join(Delivery.event)
                              .where(Event.public_id == answer["event_id"])
                              .order_by(Delivery.id)).all()
