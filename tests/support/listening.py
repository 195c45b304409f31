"""The development receiver (`flask --app app listen`) run from a test: its real server and
certificate, on a free port of 127.0.0.1, in a thread."""
from contextlib import contextmanager
from dataclasses import dataclass, field

from webhooks import listen, local_receiver

from .servers import free_port, serving


@dataclass
class Listening:
    receiver: local_receiver.LocalReceiver
    lines: list = field(default_factory=list)

    @property
    def webhook_url(self):
        return self.receiver.webhook_url


def use_local_receiver(app, instance_dir, port=None):
    """Point app's local receiver at a free port and keep its certificates in instance_dir."""
    app.config["WEBHOOKS_LISTEN_PORT"] = port or free_port()
    app.instance_path = str(instance_dir)
    return local_receiver.of(app)


@contextmanager
def listening(app, instance_dir, port=None, **options):
    """Run the receiver for app (listen's options: status, delay, forward_to, show_payload,
    secret); yield a Listening whose lines are what it printed."""
    receiver = use_local_receiver(app, instance_dir, port)
    running = Listening(receiver)
    receiver_app = listen.Receiver(app, receiver, echo=running.lines.append, **options)
    with serving(listen.serve(receiver_app, receiver.port)):
        yield running
