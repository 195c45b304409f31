"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives, parsed."""
import errno
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from .servers import free_port


@dataclass
class Received:
    sender: str
    recipients: list  # the SMTP envelope's RCPT TO addresses
    message: EmailMessage

    def part(self, subtype):
        """Return the text/<subtype> part's content, or None."""
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None and body.get_content_subtype() == subtype \
            else None


class Mailbox:
    """The aiosmtpd handler: stores each message and wakes whoever waits for it."""

    def __init__(self):
        self.messages = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        received = Received(envelope.mail_from, list(envelope.rcpt_tos),
                            message_from_bytes(envelope.original_content, policy=policy.default))
        with self._changed:
            self.messages.append(received)
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count, timeout=10):
        """Return the messages once at least count have arrived; fail the test after timeout."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"{len(self.messages)} emails arrived, {count} expected")
            return list(self.messages)


class SMTPServer:
    """A started SMTP server: host, port, its mailbox, and the app settings that point at it."""

    def __init__(self, attempts=5):
        self.mailbox = Mailbox()
        self.host = "127.0.0.1"
        # aiosmtpd's Controller cannot listen on port 0 (it connects to its own port to check
        # that it started), so take a free port and retry in the rare case it was taken since.
        for attempt in range(attempts):
            self.port = free_port()
            self.controller = Controller(self.mailbox, hostname=self.host, port=self.port)
            try:
                self.controller.start()
                break
            except OSError as error:
                if error.errno != errno.EADDRINUSE or attempt == attempts - 1:
                    raise

    @property
    def settings(self):
        return {"WEBHOOKS_SMTP_HOST": self.host, "WEBHOOKS_SMTP_PORT": self.port,
                "WEBHOOKS_SMTP_SECURITY": "none", "WEBHOOKS_SMTP_USERNAME": None,
                "WEBHOOKS_SMTP_PASSWORD": None}

    @property
    def messages(self):
        return self.mailbox.messages

    def wait_for(self, count, timeout=10):
        return self.mailbox.wait_for(count, timeout)

    def stop(self):
        self.controller.stop()


@contextmanager
def running_smtp_server():
    """Run a real SMTP server on a free port of 127.0.0.1 (for a fixture); stop it afterwards."""
    server = SMTPServer()
    try:
        yield server
    finally:
        server.stop()
