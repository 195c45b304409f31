"""The webhook's detail screen: a status header on top of five tabs, each a page of its own.

A tab is a plain link with its own URL, so it works without JavaScript and can be bookmarked;
htmx swaps only the tabs (navigation and panel) and pushes the URL, and the status header stays.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask import g, render_template, url_for
from markupsafe import Markup

from .. import overview, secret_rotation
from . import respond, wants_fragment


@dataclass(frozen=True)
class Tab:
    name: str
    label: str
    endpoint: str

    def url(self, webhook):
        return url_for(self.endpoint, slug=webhook.organization.slug, webhook_id=webhook.id)


TABS = (
    Tab("log", "Log History", "webhooks.detail"),
    Tab("health", "Health", "webhooks.health_tab"),
    Tab("settings", "Settings", "webhooks.settings"),
    Tab("secret", "Signing secret", "webhooks.signing_secret"),
    Tab("activity", "Activity", "webhooks.activity_tab"),
)
BY_NAME = {tab.name: tab for tab in TABS}


def render_tab(webhook, name, status=None, *, panel_template=None, headers=None, **context):
    """Answer with the webhook's page open at tab name: the tabs alone for htmx, else the
    whole page. The panel is templates/webhooks/tabs/<name>.html unless panel_template says."""
    tab = BY_NAME[name]
    context = {"org": g.org, "webhook": webhook, "tab": tab, "tabs": TABS,
               "page_title": f"{tab.label} · {webhook.name} · {g.org.name}",
               "previous_secret_until": secret_rotation.previous_expires_at(webhook),
               "grace_choices": secret_rotation.GRACE_CHOICES,
               "default_grace_hours": secret_rotation.DEFAULT_GRACE // timedelta(hours=1), **context}
    panel = Markup(render_template(panel_template or f"webhooks/tabs/{name}.html", **context))
    if wants_fragment():
        body = render_template("webhooks/tabs/_tabs.html", panel=panel, fragment=True, **context)
    else:
        body = render_template("webhooks/detail.html", panel=panel,
                               overview=overview.of_webhook(webhook), **context)
    return respond(body, status, headers=headers)
