"""/api/v1/webhooks/<id>/recoveries: resend the failed deliveries of a period, replay what a
webhook missed while it was off (or stop offering it), follow and cancel either."""
from flask import abort

from .. import catalog, recovery
from ..extensions import db
from ..models import Recovery
from ..views import MAX_ID
from . import answers, bp, operation
from .errors import problem
from .schemas import Errors, RecoveryOut, ResendFailed
from .serialize import recovery_out
from .webhooks import get_webhook

TAGS = ["Recovery"]
NEEDS_ACTIVE = "Turn the webhook on to resend its failed deliveries."
NOTHING_MISSED = ("There is nothing to replay: the webhook is off, or its missed events were "
                  "already sent or dismissed.")


def _recovery(webhook, recovery_id):
    found = db.session.get(Recovery, recovery_id) if recovery_id <= MAX_ID else None
    if found is None or found.webhook_id != webhook.id:
        abort(404)
    return found


@bp.post("/webhooks/<int:webhook_id>/recoveries/resend-failed")
@operation(json=ResendFailed, resp=answers(write=True, HTTP_202=RecoveryOut, HTTP_404=Errors),
           tags=TAGS)
def resend_failed(webhook_id, json: ResendFailed):
    """Resend, in the background, every delivery that failed among those created in a period
    (optionally of one event type); the webhook must be on."""
    webhook = get_webhook(webhook_id)
    if json.to <= json.from_:
        return problem(422, "must be after from.", path="to")
    if json.event_type is not None and json.event_type not in catalog.BY_TYPE:
        return problem(422, f"Unknown event type {json.event_type[:64]!r}; see GET "
                            "/api/v1/event-types.", path="event_type")
    if not webhook.is_active:
        return problem(409, NEEDS_ACTIVE)
    started = recovery.resend_failed(webhook, recovery.Window(json.from_, json.to, json.event_type))
    return recovery_out(started), 202


@bp.post("/webhooks/<int:webhook_id>/recoveries/replay-missed")
@operation(resp=answers(write=True, HTTP_202=RecoveryOut, HTTP_404=Errors), tags=TAGS)
def replay_missed(webhook_id):
    """Send the webhook the events it missed while it was off (offered after turning it back
    on: see missed_from and missed_until)."""
    started = recovery.replay_missed(get_webhook(webhook_id))
    if started is None:
        return problem(409, NOTHING_MISSED)
    return recovery_out(started), 202


@bp.post("/webhooks/<int:webhook_id>/recoveries/dismiss-missed")
@operation(resp=answers(write=True, HTTP_204=None, HTTP_404=Errors), tags=TAGS)
def dismiss_missed(webhook_id):
    """Stop offering the events the webhook missed while it was off."""
    recovery.dismiss(get_webhook(webhook_id))
    return "", 204


@bp.get("/webhooks/<int:webhook_id>/recoveries/<int:recovery_id>")
@operation(resp=answers(HTTP_200=RecoveryOut, HTTP_404=Errors), tags=TAGS)
def read_recovery(webhook_id, recovery_id):
    """Follow a bulk resend or replay: how many were sent, succeeded, failed, are waiting."""
    return recovery_out(_recovery(get_webhook(webhook_id), recovery_id))


@bp.post("/webhooks/<int:webhook_id>/recoveries/<int:recovery_id>/cancel")
@operation(resp=answers(write=True, HTTP_200=RecoveryOut, HTTP_404=Errors), tags=TAGS)
def cancel_recovery(webhook_id, recovery_id):
    """Stop sending what it has not sent yet; those deliveries stay as they were."""
    found = _recovery(get_webhook(webhook_id), recovery_id)
    if found.cancelled_at is None:
        recovery.cancel(found)
    return recovery_out(found)
