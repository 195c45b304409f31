"""The add/edit webhook form and its validation rules."""
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField, ValidationError
from wtforms.validators import DataRequired, Length

from . import catalog, urlguard
from .text import NoControlCharacters

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3 takes plain (value, label) pairs
    def SelectChoice(value, label):
        return (value, label)

NAME_REQUIRED = "Enter a name for this webhook."
NAME_TOO_LONG = "Name must be at most 100 characters."
URL_REQUIRED = "Enter the URL that should receive the events."
EVENTS_REQUIRED = "Choose at least one event to send."
USERNAME_REQUIRED = "Enter the username for Basic Auth."
PASSWORD_REQUIRED = "Enter the password for Basic Auth."
USERNAME_HAS_COLON = "The username cannot contain a colon (:) — Basic Auth uses it to separate the password."

AUTH_CHOICES = [SelectChoice("none", "No Auth"), SelectChoice("basic", "Basic Auth")]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def url_target_problem(url):
    """Return why webhooks may not be sent to url (form, DNS, private address), or None."""
    # urlguard.resolve is looked up on every call so tests can substitute the resolver.
    return urlguard.target_problem(
        url,
        allow_private=current_app.config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"],
        resolver=urlguard.resolve,
    )


class WebhookForm(FlaskForm):
    """Name, URL, authentication and events of one webhook."""

    name = StringField("Name", filters=[_strip], validators=[
        DataRequired(NAME_REQUIRED), Length(max=100, message=NAME_TOO_LONG), NoControlCharacters()])
    url = StringField("Webhook URL", filters=[_strip], validators=[DataRequired(URL_REQUIRED)])
    auth_type = SelectField("Authentication", choices=AUTH_CHOICES, default="none")
    basic_username = StringField("Username", filters=[_strip], validators=[
        Length(max=255, message="Username must be at most 255 characters."), NoControlCharacters()])
    basic_password = PasswordField("Password", validators=[
        Length(max=1024, message="Password must be at most 1,024 characters."),
        NoControlCharacters()])
    event_types = SelectMultipleField(
        "Events", choices=[SelectChoice(t.type, t.title) for t in catalog.EVENT_TYPES],
        validate_choice=True)

    def __init__(self, *args, has_stored_password=False, **kwargs):
        super().__init__(*args, **kwargs)
        # On edit an empty password field keeps the stored one, which is never sent back.
        self.has_stored_password = has_stored_password

    def validate_url(self, field):
        problem = url_target_problem(field.data)
        if problem:
            raise ValidationError(problem)

    def validate_event_types(self, field):
        if not field.data:
            raise ValidationError(EVENTS_REQUIRED)

    def validate_basic_username(self, field):
        if self.auth_type.data != "basic":
            return
        if not field.data:
            raise ValidationError(USERNAME_REQUIRED)
        if ":" in field.data:  # RFC 7617: user-id and password are joined by the first colon
            raise ValidationError(USERNAME_HAS_COLON)

    def validate_basic_password(self, field):
        if self.auth_type.data == "basic" and not field.data and not self.has_stored_password:
            raise ValidationError(PASSWORD_REQUIRED)

    def selected_event_types(self):
        """Return the chosen event types in catalog order."""
        chosen = set(self.event_types.data or ())
        return [t for t in catalog.SUBSCRIBABLE if t in chosen]

    def apply_to(self, webhook):
        """Copy the validated fields onto a webhook (an empty password keeps the stored one)."""
        webhook.name = self.name.data
        webhook.url = self.url.data
        webhook.event_types = self.selected_event_types()
        if self.auth_type.data == "basic":
            webhook.auth_type = "basic"
            webhook.basic_username = self.basic_username.data
            if self.basic_password.data:
                webhook.basic_password = self.basic_password.data
        else:
            webhook.auth_type = "none"
            webhook.basic_username = None
            webhook.basic_password = None
