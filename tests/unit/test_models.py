"""Model rules that hold on every database."""
from datetime import timezone

from sqlalchemy import text

from webhooks.extensions import db
from webhooks.models import Organization


def test_timestamps_read_back_in_utc_whatever_the_session_time_zone(app, database):
    org = Organization(slug="tz", name="TZ")
    db.session.add(org)
    db.session.commit()
    stored = org.created_at
    if database == "postgres":
        db.session.execute(text("SET TIME ZONE 'America/New_York'"))
    db.session.expire_all()
    again = db.session.get(Organization, org.id).created_at
    assert again.tzinfo == timezone.utc
    assert again == stored
    assert again.utcoffset().total_seconds() == 0
    db.session.rollback()


def test_credentials_are_encrypted_at_rest(app, factory):
    webhook = factory.webhook(factory.org(), auth_type="basic", basic_username="u",
                              basic_password="s3cret-pass")
    row = db.session.execute(text(
        "SELECT basic_password_encrypted, secret_encrypted FROM webhooks WHERE id = :id"),
        {"id": webhook.id}).one()
    assert "s3cret-pass" not in row[0] and "whsec_" not in row[1]
    assert webhook.basic_password == "s3cret-pass"
    assert webhook.signing_secret.startswith("whsec_")
