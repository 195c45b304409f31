"""Build, sign and send one attempt; record it; decide the next step."""
from .extensions import db
from .models import Delivery, utcnow


def cancel_pending(webhook_id, reason):
    """Cancel every pending delivery of a webhook (deactivated or deleted), keeping the reason."""
    db.session.execute(
        db.update(Delivery)
        .where(Delivery.webhook_id == webhook_id, Delivery.state == Delivery.PENDING)
        .values(state=Delivery.CANCELLED, cancel_reason=reason, next_attempt_at=None,
                updated_at=utcnow())
    )
