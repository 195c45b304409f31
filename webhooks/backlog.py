"""Say in plain words when an endpoint is slowed down and how many deliveries wait for it."""
from dataclasses import dataclass

from .claims import WAITING_COUNT_LIMIT, is_not_responding

WAITING_TITLE = "Due now and waiting their turn: each endpoint is sent a few events at a time."


@dataclass(frozen=True)
class Backlog:
    """A webhook's backlog notice: the words, a tone for the colour and a tooltip."""

    text: str
    tone: str  # "warn" (amber): the endpoint is slowed down; "info" (blue): events only wait
    title: str
    icon: str


def waiting_words(count):
    """Return "118", "1,234" or "10,000+" for a count taken up to WAITING_COUNT_LIMIT + 1."""
    if count > WAITING_COUNT_LIMIT:
        return f"{WAITING_COUNT_LIMIT:,}+"
    return f"{count:,}"


def describe(webhook, waiting):
    """Return the Backlog notice of a webhook given its waiting count, or None if all is well."""
    # A webhook that is off sends nothing: "sending one event at a time" would not be true.
    if webhook.is_active and is_not_responding(webhook):
        text = "Not responding: sending one event at a time"
        if waiting:
            text += f", {waiting_words(waiting)} waiting"
        title = (f"The last {webhook.unanswered_streak} attempts got no HTTP answer, so events "
                 "go to this endpoint one at a time until it answers again.")
        return Backlog(text, "warn", title, "⚠\ufe0e")
    if waiting:
        return Backlog(f"{waiting_words(waiting)} waiting to be sent", "info", WAITING_TITLE, "◷")
    return None
