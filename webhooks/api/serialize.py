"""Webhooks, deliveries and attempts as the API shows them: what the Webhooks tab and Log
History show, with every credential masked."""
import json

from .. import history, recovery, secret_rotation
from ..signing import MASK
from .schemas import (AttemptOut, DeliveryDetail, DeliveryOut, Health, HeaderOut, Progress,
                      RecoveryOut, WebhookOut)


def webhook_out(webhook):
    return WebhookOut(
        id=webhook.id, name=webhook.name, url=webhook.url, event_types=webhook.event_types,
        is_active=webhook.is_active, auth_type=webhook.auth_type,
        basic_username=webhook.basic_username,
        headers=[HeaderOut(name=name, value=MASK) for name, _ in webhook.custom_headers],
        previous_secret_expires_at=secret_rotation.previous_expires_at(webhook),
        missed_from=webhook.missed_from, missed_until=webhook.missed_until,
        health=Health(state=webhook.health_state, last_status_code=webhook.last_status_code,
                      last_error=webhook.last_error, last_attempt_at=webhook.last_attempt_at,
                      last_success_at=webhook.last_success_at,
                      last_failure_at=webhook.last_failure_at,
                      failing_since=webhook.failing_since,
                      disabled_reason=webhook.disabled_reason),
        created_at=webhook.created_at, updated_at=webhook.updated_at)


def _response_text(delivery):
    """Log History's Response column in words, with its time when it has one ("Retrying at …")."""
    response = history.response_of(delivery)
    if response.at is None:
        return response.text
    return f"{response.text} {response.at.isoformat().replace('+00:00', 'Z')}"


def _delivery_fields(delivery, event_public_id):
    return dict(
        id=delivery.id, message_id=delivery.public_id, event_id=event_public_id,
        event_type=delivery.event_type, state=delivery.state,
        response=_response_text(delivery), last_status_code=delivery.last_status_code,
        last_error=delivery.last_error, attempt_count=delivery.attempt_count,
        next_attempt_at=delivery.next_attempt_at, last_attempt_at=delivery.last_attempt_at,
        resend_requested_at=delivery.manual_requested_at, cancel_reason=delivery.cancel_reason,
        created_at=delivery.created_at)


def delivery_out(delivery, event_public_id=None):
    return DeliveryOut(**_delivery_fields(delivery, event_public_id or delivery.event.public_id))


def _attempt_out(attempt):
    failure = attempt.failure
    return AttemptOut(
        number=attempt.number, trigger=attempt.trigger, succeeded=attempt.succeeded,
        started_at=attempt.started_at, finished_at=attempt.finished_at,
        duration_ms=attempt.duration_ms, url=attempt.url,
        request_headers=[tuple(pair) for pair in attempt.request_headers_shown]
        if attempt.request_headers is not None else None,
        response_status=attempt.response_status,
        response_headers=[tuple(pair) for pair in attempt.response_headers]
        if attempt.response_headers is not None else None,
        response_body=attempt.response_body, response_body_size=attempt.response_body_size,
        response_truncated=attempt.response_truncated, error=attempt.error,
        failure_category=None if attempt.succeeded else attempt.category,
        failure=failure[0] if failure else None, what_to_fix=failure[1] if failure else None)


def recovery_out(found):
    progress = recovery.progress(found)
    return RecoveryOut(
        id=found.id, kind=found.kind, window_from=found.window_from, window_to=found.window_to,
        event_type=found.event_type, total=found.total, created_at=found.created_at,
        cancelled_at=found.cancelled_at,
        progress=Progress(sent=progress.sent, succeeded=progress.succeeded, failed=progress.failed,
                          retrying=progress.retrying, waiting=progress.waiting,
                          percent=progress.percent, done=progress.done))


def delivery_detail(row):
    """The delivery of a Log History row with its event's envelope (unless retention removed
    it) and every attempt."""
    try:
        payload = json.loads(row.event.payload)
    except (TypeError, ValueError):
        payload = row.event.payload
    return DeliveryDetail(**_delivery_fields(row.delivery, row.event.public_id), payload=payload,
                          payload_removed=row.removed_text,
                          attempts=[_attempt_out(a) for a in row.delivery.attempts])
