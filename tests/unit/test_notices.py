"""Email notices about failing webhooks, sent through a real SMTP server on 127.0.0.1."""
import logging
from datetime import datetime, timedelta, timezone

import pytest
from markupsafe import escape

from tests.support.servers import free_port
from tests.support.smtp import running_smtp_server
from webhooks import failures, mail, notices
from webhooks.columns import utcnow

ADVICE = "Check the endpoint's server logs around the time of the failure."
FAILING_SINCE = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def advice(monkeypatch):
    """Stand in for failures.advice with a known text; return the calls it got."""
    calls = []

    def advise(category, **details):
        calls.append((category, details))
        return ADVICE

    monkeypatch.setattr(failures, "advice", advise)
    return calls


@pytest.fixture
def acme(factory):
    """Acme Roofing: two webhook managers, a member without the permission; and another org."""
    org = factory.org("acme", "Acme Roofing")
    factory.user("ann@acme.test", org=org)
    factory.user("bob@acme.test", org=org)
    factory.user("carl@acme.test", org=org, permissions=())
    factory.user("dora@other.test", org=factory.org("other", "Other Co"))
    return org


@pytest.fixture
def webhook(factory, acme):
    return factory.webhook(acme, name="CRM sync", url="https://crm.example.com/hook",
                           last_category=failures.HTTP_5XX, last_status_code=503,
                           failing_since=FAILING_SINCE, last_failure_at=FAILING_SINCE,
                           last_attempt_at=FAILING_SINCE, failing_deliveries=1)


@pytest.fixture
def smtp(app):
    """A real SMTP server on 127.0.0.1 that the app sends to."""
    with running_smtp_server() as server:
        app.config.update(server.settings)
        yield server


def sent_through(smtp, messages):
    """Send messages in the background as a delivery worker would; return what arrived."""
    mail.send_later(messages)
    assert mail.wait_idle(timeout=15)
    return smtp.wait_for(len(messages))


def link_of(webhook):
    return f"http://127.0.0.1:5000/orgs/acme/webhooks/{webhook.id}"


def assert_one_per_manager(received):
    assert sorted(r.recipients for r in received) == [["ann@acme.test"], ["bob@acme.test"]]
    for r in received:
        assert r.message["To"] == r.recipients[0]  # nobody sees the other addresses
        assert r.message["From"] == "webhooks@localhost"
        assert r.message["Auto-Submitted"] == "auto-generated"


def test_started_failing_reaches_each_webhook_manager_of_the_organization(
        app, smtp, webhook, advice):
    received = sent_through(smtp, notices.started_failing(webhook))

    assert_one_per_manager(received)
    email = received[0]
    assert email.message["Subject"] == "[Webhooks] “CRM sync” is failing"
    text = email.part("plain")
    assert "Acme Roofing" in text and "https://crm.example.com/hook" in text
    assert "Failing since: 2026-11-27 09:30 UTC" in text
    assert "Server error (5xx), HTTP 503" in text
    assert f"What to fix: {ADVICE}" in text
    assert link_of(webhook) in text
    html = email.part("html")
    assert f'href="{link_of(webhook)}"' in html and escape(ADVICE) in html and "CRM sync" in html
    assert advice == [(failures.HTTP_5XX, {"url": "https://crm.example.com/hook", "status": 503,
                                           "error": None, "timeout_seconds": 15})]


def test_disable_warning_says_when_the_webhook_will_be_turned_off(app, smtp, webhook, advice):
    webhook.last_category, webhook.last_status_code = failures.TIMEOUT, None
    webhook.last_error = "Timed out after 15 s waiting for a response"
    disable_at = datetime(2026, 11, 30, 9, 30, tzinfo=timezone.utc)

    received = sent_through(smtp, notices.disable_warning(webhook, disable_at))

    assert_one_per_manager(received)
    email = received[0]
    assert email.message["Subject"] == "[Webhooks] “CRM sync” will be turned off if it keeps failing"
    text = email.part("plain")
    assert "turned off automatically at 2026-11-30 09:30 UTC" in text
    assert "Last failure:  Timeout, at 2026-11-27 09:30 UTC" in text
    assert "Error:         Timed out after 15 s waiting for a response" in text
    assert ADVICE in text and link_of(webhook) in text
    assert "2026-11-30 09:30 UTC" in email.part("html")


def test_disabled_says_why_and_how_to_turn_it_back_on(app, smtp, webhook, advice):
    webhook.is_active, webhook.deactivated_at = False, datetime(2026, 11, 30, 9, 31,
                                                                tzinfo=timezone.utc)
    webhook.disabled_reason = "Failing for 72 hours: 12 deliveries failed and none succeeded."

    received = sent_through(smtp, notices.disabled(webhook))

    assert_one_per_manager(received)
    email = received[0]
    assert email.message["Subject"] == "[Webhooks] “CRM sync” was turned off"
    text = email.part("plain")
    assert ("turned off automatically at 2026-11-30 09:31 UTC: Failing for 72 hours: "
            "12 deliveries failed and none succeeded.") in text
    assert "turn the webhook back on in the Webhooks tab" in text
    assert "events it missed" in text
    assert ADVICE in text and link_of(webhook) in text
    assert "turn the webhook back on in the Webhooks tab" in email.part("html")


def test_a_notice_without_advice_leaves_the_line_out(app, webhook, monkeypatch):
    monkeypatch.setattr(failures, "advice", lambda category, **details: None)

    [message, _] = notices.started_failing(webhook)

    assert "What to fix" not in message.text and "What to fix" not in message.html


def test_a_notice_carries_the_advice_of_failures(app, webhook):
    expected = failures.advice(failures.HTTP_5XX, url=webhook.url, status=503, error=None)
    assert expected

    [message, _] = notices.started_failing(webhook)

    assert (f"What to fix: {expected}" in message.text) == bool(expected)


def test_no_webhook_managers_means_no_notices(app, factory, webhook, advice):
    lonely = factory.org("lonely")
    factory.user("eve@lonely.test", org=lonely, permissions=())
    other = factory.webhook(lonely, name="Lonely hook")

    assert notices.started_failing(other) == []
    assert notices.disabled(other) == []


def test_the_link_is_the_webhook_page_under_the_base_url(app, factory, advice):
    app.config["WEBHOOKS_BASE_URL"] = "https://hooks.example.com/app"
    org = factory.org("a#b", "Hash & Co")
    factory.user("ann@hash.test", org=org)
    webhook = factory.webhook(org, failing_since=utcnow())

    link = notices.webhook_link(webhook)

    assert link == f"https://hooks.example.com/app/orgs/a%23b/webhooks/{webhook.id}"
    with app.test_request_context(link.removeprefix("https://hooks.example.com/app")) as asked:
        assert asked.request.endpoint == "webhooks.detail"
        assert asked.request.view_args == {"slug": "a#b", "webhook_id": webhook.id}


def test_html_part_escapes_what_people_typed(app, factory, acme, advice):
    webhook = factory.webhook(acme, name="<b>CRM</b>", failing_since=utcnow())

    [message, _] = notices.started_failing(webhook)

    assert "&lt;b&gt;CRM&lt;/b&gt;" in message.html and "<b>CRM</b>" not in message.html
    assert "“<b>CRM</b>”" in message.text


def test_without_an_smtp_host_the_email_is_logged_not_sent(app, webhook, advice, caplog):
    app.config["WEBHOOKS_SMTP_HOST"] = None
    caplog.set_level(logging.INFO, logger="webhooks.mail")

    mail.send_later(notices.started_failing(webhook))

    assert mail.wait_idle(timeout=15)
    logged = [r for r in caplog.records if r.name == "webhooks.mail"]
    assert [r.levelno for r in logged] == [logging.INFO, logging.INFO]
    first = logged[0].getMessage()
    assert first.splitlines()[0] == ("Development: WEBHOOKS_SMTP_HOST is not set, so this email "
                                     "is logged, not sent.")
    assert "[Webhooks] “CRM sync” is failing" in first and link_of(webhook) in first


def test_a_refused_connection_is_logged_and_not_raised(app, webhook, advice, caplog):
    app.config.update(WEBHOOKS_SMTP_HOST="127.0.0.1", WEBHOOKS_SMTP_PORT=free_port(),
                      WEBHOOKS_SMTP_SECURITY="none")
    [message, _] = notices.started_failing(webhook)

    assert mail.send(message) is False
    mail.send_later([message])
    assert mail.wait_idle(timeout=15)

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "Could not send the email '[Webhooks] “CRM sync” is failing'" in errors[0].getMessage()
    assert "ConnectionRefusedError" in errors[0].getMessage()


def test_the_password_is_never_logged(app, smtp, webhook, advice, caplog):
    # The test server offers no AUTH, so signing in fails: the reason is logged, not the password.
    app.config.update(WEBHOOKS_SMTP_USERNAME="mailer", WEBHOOKS_SMTP_PASSWORD="hunter2-secret")
    [message, _] = notices.started_failing(webhook)

    assert mail.send(message) is False

    assert "SMTPNotSupportedError" in caplog.text
    assert "hunter2-secret" not in caplog.text
    assert smtp.messages == []


def test_send_later_does_not_wait_for_the_smtp_server(app, smtp, webhook, advice):
    messages = notices.started_failing(webhook)
    started = utcnow()

    mail.send_later(messages)

    assert utcnow() - started < timedelta(seconds=1)
    assert mail.wait_idle(timeout=15)
    assert len(smtp.wait_for(2)) == 2
