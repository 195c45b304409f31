"""/api/v1/webhooks: list, create, read, update, delete, turn on and off, send a test event,
reveal and rotate the signing secret: the Webhooks tab's actions with its own rules."""
from datetime import timedelta

from flask import abort
from werkzeug.datastructures import MultiDict

from .. import custom_headers, lifecycle, secret_rotation
from ..extensions import db
from ..forms import WebhookForm
from ..models import ApiKey, Webhook
from ..views import MAX_ID
from . import answers, bp, cursors, operation
from .auth import current_key
from .errors import problem
from .schemas import (Errors, Page, Rotate, Secret, Switched, TestEvent, TestEventRequest,
                      WebhookCreate, WebhookOut, WebhookPage, WebhookUpdate)
from .serialize import delivery_out, webhook_out

TAGS = ["Webhooks"]
SECRET_TAGS = ["Signing secret"]
FORM_FIELDS = ("name", "url", "auth_type", "basic_username", "basic_password", "event_types")
NO_STORE = {"Cache-Control": "no-store"}


def get_webhook(webhook_id):
    """Return the calling organization's webhook, or 404 whoever owns that id."""
    if webhook_id > MAX_ID:
        abort(404)
    webhook = db.session.scalar(db.select(Webhook).filter_by(
        id=webhook_id, organization_id=current_key().organization_id, deleted_at=None))
    if webhook is None:
        abort(404)
    return webhook


def _form_data(webhook, fields):
    """Return the form's data: the webhook's current values, overridden by the given fields."""
    data = {}
    if webhook is not None:
        data = {"name": webhook.name, "url": webhook.url, "auth_type": webhook.auth_type,
                "basic_username": webhook.basic_username or "", "event_types": webhook.event_types}
    data.update({name: value for name, value in fields.items()
                 if name in FORM_FIELDS and value is not None})
    formdata = MultiDict()
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            formdata.add(name, item)
    return formdata


def _header_pairs(webhook, given):
    """Return the custom headers a request asks for (None: unchanged), stored values kept."""
    if given is None:
        return None
    pairs = [(h.name, h.value or "") for h in given]
    return custom_headers.kept(pairs, webhook.custom_headers if webhook else [])


def _validated(webhook, body):
    """Validate body with the form's own rules; return (form, headers, errors)."""
    has_password = bool(webhook and webhook.basic_password_encrypted)
    form = WebhookForm(formdata=_form_data(webhook, body.model_dump(exclude_unset=True)),
                       has_stored_password=has_password, meta={"csrf": False})
    valid = form.validate()
    errors = [] if valid else [{"path": name, "message": message}
                               for name, messages in form.errors.items()
                               if name in FORM_FIELDS for message in messages]
    headers = _header_pairs(webhook, body.headers)
    if headers is not None:
        errors += [{"path": "headers" if index is None else f"headers[{index}].{part}",
                    "message": message}
                   for index, part, message in custom_headers.problems(
                       headers, basic_auth=form.auth_type.data == "basic")]
    return form, headers, errors


def _applier(form, headers):
    """Return what copies the validated request onto a webhook (headers None: kept)."""
    def apply(webhook):
        stored = webhook.custom_headers
        form.apply_to(webhook)
        webhook.custom_headers = stored if headers is None else headers
    return apply


@bp.get("/webhooks")
@operation(query=Page, resp=answers(HTTP_200=WebhookPage, HTTP_400=Errors), tags=TAGS)
def list_webhooks(query: Page):
    """List the organization's webhooks, oldest first."""
    after = 0
    if query.cursor is not None:
        after = cursors.decode(query.cursor)
        if after is None:
            return problem(400, "is not a cursor this API gave out.", path="cursor")
    webhooks = db.session.scalars(
        db.select(Webhook).where(Webhook.organization_id == current_key().organization_id,
                                 Webhook.deleted_at.is_(None), Webhook.id > after)
        .order_by(Webhook.id).limit(query.limit + 1)).all()
    more = len(webhooks) > query.limit
    webhooks = webhooks[:query.limit]
    return WebhookPage(data=[webhook_out(w) for w in webhooks],
                       next_cursor=cursors.encode(webhooks[-1].id) if more else None)


@bp.post("/webhooks")
@operation(json=WebhookCreate, resp=answers(write=True, HTTP_201=WebhookOut), tags=TAGS)
def create_webhook(json: WebhookCreate):
    """Add a webhook, turned off: turn it on when its endpoint is ready."""
    form, headers, errors = _validated(None, json)
    if errors:
        return {"errors": errors}, 422
    webhook = Webhook(organization_id=current_key().organization_id, is_active=False)
    _applier(form, headers or [])(webhook)
    lifecycle.create(webhook)
    return webhook_out(webhook), 201


@bp.get("/webhooks/<int:webhook_id>")
@operation(resp=answers(HTTP_200=WebhookOut, HTTP_404=Errors), tags=TAGS)
def read_webhook(webhook_id):
    """Read one webhook."""
    return webhook_out(get_webhook(webhook_id))


@bp.patch("/webhooks/<int:webhook_id>")
@operation(json=WebhookUpdate, resp=answers(write=True, HTTP_200=WebhookOut, HTTP_404=Errors),
           tags=TAGS)
def update_webhook(webhook_id, json: WebhookUpdate):
    """Change some of a webhook's settings; the fields left out keep their values."""
    webhook = get_webhook(webhook_id)
    form, headers, errors = _validated(webhook, json)
    if errors:
        return {"errors": errors}, 422
    lifecycle.update(webhook, _applier(form, headers))
    return webhook_out(webhook)


@bp.delete("/webhooks/<int:webhook_id>")
@operation(resp=answers(HTTP_204=None, HTTP_404=Errors), tags=TAGS)
def delete_webhook(webhook_id):
    """Delete a webhook; its pending deliveries are cancelled."""
    lifecycle.delete(get_webhook(webhook_id))
    return "", 204


@bp.post("/webhooks/<int:webhook_id>/activate")
@operation(resp=answers(write=True, HTTP_200=Switched, HTTP_404=Errors), tags=TAGS)
def activate_webhook(webhook_id):
    """Turn a webhook on; it is sent a test event (webhook.ping) at once."""
    webhook = get_webhook(webhook_id)
    ping = lifecycle.activate(webhook)
    return Switched(webhook=webhook_out(webhook), changed=ping is not None,
                    test_delivery_id=ping.id if ping else None)


@bp.post("/webhooks/<int:webhook_id>/deactivate")
@operation(resp=answers(write=True, HTTP_200=Switched, HTTP_404=Errors), tags=TAGS)
def deactivate_webhook(webhook_id):
    """Turn a webhook off; its pending deliveries are cancelled."""
    webhook = get_webhook(webhook_id)
    changed = lifecycle.deactivate(webhook)
    return Switched(webhook=webhook_out(webhook), changed=changed)


@bp.post("/webhooks/<int:webhook_id>/test-event")
@operation(json=TestEventRequest,
           resp=answers(write=True, HTTP_202=TestEvent, HTTP_404=Errors), tags=TAGS)
def send_test_event(webhook_id, json: TestEventRequest):
    """Send a test event: a webhook.ping (on or off; the default), or the catalog's example of
    an event type (409 while the webhook is off); its result appears in its deliveries."""
    webhook = get_webhook(webhook_id)
    refusal = lifecycle.test_event_refusal(webhook, json.event_type)
    if refusal:
        return problem(409, refusal, "event_type")
    delivery = lifecycle.send_test_event(webhook, json.event_type)
    return TestEvent(delivery=delivery_out(delivery)), 202


def _needs_write_scope():
    if not current_key().allows(ApiKey.WRITE):
        return problem(403, "Revealing the signing secret needs an API key with scope write.")
    return None


def _secret(webhook):
    return Secret(secret=webhook.signing_secret,
                  previous_secret_expires_at=secret_rotation.previous_expires_at(webhook))


@bp.get("/webhooks/<int:webhook_id>/secret")
@operation(resp=answers(HTTP_200=Secret, HTTP_404=Errors), tags=SECRET_TAGS)
def reveal_secret(webhook_id):
    """Reveal the signing secret (write keys only)."""
    webhook = get_webhook(webhook_id)
    refused = _needs_write_scope()
    if refused:
        return refused
    secret_rotation.revealed(webhook)
    return _secret(webhook), 200, NO_STORE


@bp.post("/webhooks/<int:webhook_id>/secret/rotate")
@operation(json=Rotate, resp=answers(write=True, HTTP_200=Secret, HTTP_404=Errors),
           tags=SECRET_TAGS)
def rotate_secret(webhook_id, json: Rotate):
    """Make a new signing secret; the previous one keeps signing beside it for the grace
    period (default 24 hours, at most 7 days)."""
    webhook = get_webhook(webhook_id)
    secret_rotation.rotate(webhook, timedelta(hours=json.grace_period_hours))
    return _secret(webhook), 200, NO_STORE


@bp.post("/webhooks/<int:webhook_id>/secret/stop-previous")
@operation(resp=answers(write=True, HTTP_200=Secret, HTTP_404=Errors), tags=SECRET_TAGS)
def stop_previous_secret(webhook_id):
    """Stop signing with the previous secret now (after a leak, say)."""
    webhook = get_webhook(webhook_id)
    secret_rotation.stop_previous(webhook)
    return _secret(webhook), 200, NO_STORE

