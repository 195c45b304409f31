"""Email notices to an organization's webhook managers: a webhook started failing, will be turned
off if it keeps failing, was turned off.

Each returns the messages to send, one per recipient so no one sees the others' addresses;
mail.send_later sends them. The templates are in templates/emails/.
"""
from datetime import timezone
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy.orm import joinedload

from . import failures
from .extensions import db
from .mail import Message
from .models import WEBHOOKS_PERMISSION, Membership


def started_failing(webhook):
    """Return the notices that webhook started failing."""
    return _notices(webhook, "started_failing", f"[Webhooks] “{_name(webhook)}” is failing")


def disable_warning(webhook, disable_at):
    """Return the warnings that webhook will be turned off at disable_at if it keeps failing."""
    return _notices(webhook, "disable_warning",
                    f"[Webhooks] “{_name(webhook)}” will be turned off if it keeps failing",
                    disable_at=_utc(disable_at))


def disabled(webhook):
    """Return the notices that webhook was turned off automatically, and how to turn it back on."""
    return _notices(webhook, "disabled", f"[Webhooks] “{_name(webhook)}” was turned off",
                    reason=(webhook.disabled_reason or "").strip().rstrip(".") or None)


def recipients(organization):
    """Return the addresses of the organization's members who may manage its webhooks."""
    memberships = db.session.scalars(
        db.select(Membership).filter_by(organization_id=organization.id)
        .options(joinedload(Membership.user)).order_by(Membership.id))
    addresses = (m.user.email for m in memberships if m.grants(WEBHOOKS_PERMISSION))
    return list(dict.fromkeys(address for address in addresses if address))


def webhook_link(webhook):
    """Return the absolute address of the webhook's page under WEBHOOKS_BASE_URL.

    Built from the route itself (webhooks.detail), which needs no request: notices are made
    by workers.
    """
    base = urlsplit(current_app.config["WEBHOOKS_BASE_URL"])
    urls = current_app.url_map.bind(base.netloc, script_name=base.path or "/",
                                    url_scheme=base.scheme)
    return urls.build("webhooks.detail",
                      {"slug": webhook.organization.slug, "webhook_id": webhook.id},
                      force_external=True)


def advice(webhook):
    """Return what to fix after the webhook's latest failure, or None."""
    if webhook.last_category in (None, failures.SUCCESS):
        return None
    return failures.advice(webhook.last_category, url=webhook.url,
                           status=webhook.last_status_code, error=webhook.last_error,
                           timeout_seconds=current_app.config["WEBHOOKS_TIMEOUT_SECONDS"])


def _notices(webhook, template, subject, **context):
    addresses = recipients(webhook.organization)
    if not addresses:
        return []
    context = {**_details(webhook), **context}
    text = _render(f"emails/{template}.txt", context)
    html = _render(f"emails/{template}.html", {**context, "subject": subject})
    return [Message(to=(address,), subject=subject, text=text, html=html) for address in addresses]


def _render(template, context):
    # Not render_template: the app's context processors (the page navigation) need a request
    # and a signed-in user, and a notice has neither.
    return current_app.jinja_env.get_template(template).render(context)


def _details(webhook):
    """Return what every notice says about the webhook."""
    return {
        "webhook": webhook,
        "organization": webhook.organization,
        "name": _name(webhook),
        "link": webhook_link(webhook),
        "failing_since": _utc(webhook.failing_since),
        "last_failure_at": _utc(webhook.last_failure_at),
        "deactivated_at": _utc(webhook.deactivated_at),
        "category": failures.LABELS.get(webhook.last_category),
        "status": webhook.last_status_code,
        "error": webhook.last_error,
        "advice": advice(webhook),
        "disable_after_hours": _hours(current_app.config["WEBHOOKS_DISABLE_AFTER_HOURS"]),
    }


def _name(webhook):
    # One line whatever was stored: it goes into a Subject header.
    return " ".join(webhook.name.split())


def _utc(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else None


def _hours(hours):
    return f"{hours:g}"
