"""Email out: a message over SMTP (or into the log while no SMTP host is set), now or from a
background thread.

A failure to send is logged and never raised: a notice must not break what triggered it.
"""
import atexit
import logging
import os
import smtplib
import ssl
import threading
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from flask import current_app

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Message:
    """One email: to is a tuple of addresses; html, when given, is the alternative to text."""

    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None


def send(message):
    """Send message with the current app's SMTP settings; return whether it went (or was logged)."""
    config = current_app.config
    if not config["WEBHOOKS_SMTP_HOST"]:
        log.info("Development: WEBHOOKS_SMTP_HOST is not set, so this email is logged, not sent.\n"
                 "To: %s\nSubject: %s\n\n%s", ", ".join(message.to), message.subject, message.text)
        return True
    try:
        _send_smtp(_email(message, config["WEBHOOKS_MAIL_FROM"]), config)
    except (smtplib.SMTPException, OSError) as error:
        log.error("Could not send the email %r to %s through %s:%s: %s: %s", message.subject,
                  ", ".join(message.to), config["WEBHOOKS_SMTP_HOST"], config["WEBHOOKS_SMTP_PORT"],
                  type(error).__name__, error)
        return False
    except Exception:  # a bug (a header it cannot encode, say): still not the caller's failure
        log.exception("Could not send the email %r to %s", message.subject, ", ".join(message.to))
        return False
    return True


def _email(message, sender):
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(message.to)
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    # RFC 3834: sent by a machine, so out-of-office responders do not answer it.
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.text)
    if message.html is not None:
        email.add_alternative(message.html, subtype="html")
    return email


def _send_smtp(email, config):
    host, port, security = (config["WEBHOOKS_SMTP_HOST"], config["WEBHOOKS_SMTP_PORT"],
                            config["WEBHOOKS_SMTP_SECURITY"])
    if security == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
    with smtp:
        if security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if config["WEBHOOKS_SMTP_USERNAME"]:
            smtp.login(config["WEBHOOKS_SMTP_USERNAME"], config["WEBHOOKS_SMTP_PASSWORD"] or "")
        refused = smtp.send_message(email)
    if refused:  # only raised when every recipient is refused
        log.warning("The SMTP server refused the email %r for %s", email["Subject"],
                    ", ".join(f"{address} ({code})" for address, (code, _) in refused.items()))


class _Outbox:
    """Batches of messages waiting for the one sending thread, and how many are unfinished."""

    def __init__(self):
        self.batches = deque()
        self.unfinished = 0
        self.changed = threading.Condition()
        self.thread = None


_outbox = _Outbox()


def _forget_after_fork():
    """Start a forked child with an empty outbox: the parent's thread and batches are not its own."""
    global _outbox
    _outbox = _Outbox()


os.register_at_fork(after_in_child=_forget_after_fork)


def send_later(messages):
    """Send messages from a background thread, in the current app's context; return at once."""
    messages = list(messages)
    if not messages:
        return
    app = current_app._get_current_object()
    outbox = _outbox
    with outbox.changed:
        outbox.batches.append((app, messages))
        outbox.unfinished += 1
        if outbox.thread is None or not outbox.thread.is_alive():
            outbox.thread = threading.Thread(target=_send_batches, args=(outbox,),
                                             name="webhooks-mail", daemon=True)
            outbox.thread.start()
        outbox.changed.notify_all()


def _send_batches(outbox):
    while True:
        with outbox.changed:
            outbox.changed.wait_for(lambda: outbox.batches)
            app, messages = outbox.batches.popleft()
        try:
            with app.app_context():
                for message in messages:
                    send(message)
        finally:
            with outbox.changed:
                outbox.unfinished -= 1
                outbox.changed.notify_all()


def wait_idle(timeout=None):
    """Wait until every message given to send_later has been sent; return False on timeout."""
    outbox = _outbox
    with outbox.changed:
        return outbox.changed.wait_for(lambda: outbox.unfinished == 0, timeout)


# The thread is a daemon, so a process exiting normally first gives it time to finish.
atexit.register(wait_idle, 3 * TIMEOUT_SECONDS)
