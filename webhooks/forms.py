"""The add/edit webhook form (with its custom header rows), the bulk resend's window, and their
validation rules."""
from datetime import datetime, timedelta, timezone

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    ValidationError,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from . import catalog, custom_headers, local_receiver, urlguard
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
VALUE_UNCHANGED = "•••••• (unchanged)"
VALUE_RETYPE = "Type the value again"


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def url_target_problem(url):
    """Return why webhooks may not be sent to url (form, DNS, private address), or None."""
    # urlguard.resolve is looked up on every call so tests can substitute the resolver.
    return urlguard.target_problem(
        url,
        allow_private=current_app.config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"],
        resolver=urlguard.resolve,
        local_receiver=local_receiver.of(current_app),
    )


class HeaderRowForm(Form):
    """One custom header row; its value is a password input, never rendered back."""

    name = StringField("Name", filters=[_strip])
    value = PasswordField("Value")


def blank_header_row(index):
    """Return an empty header row named as WebhookForm.headers names its row at index."""
    return HeaderRowForm(prefix=f"headers-{index}-")


class WebhookForm(FlaskForm):
    """Name, URL, authentication, custom headers and events of one webhook."""

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
    headers = FieldList(FormField(HeaderRowForm), "Custom headers")

    def __init__(self, *args, has_stored_password=False, stored_headers=(), **kwargs):
        super().__init__(*args, **kwargs)
        # On edit an empty password field keeps the stored one, which is never sent back.
        self.has_stored_password = has_stored_password
        # Likewise an empty header value keeps the stored value of the same name.
        self.stored_headers = list(stored_headers)
        self.header_added = False

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

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        return self._validate_headers() and valid

    def _validate_headers(self):
        """Attach custom_headers' problems to their rows' fields, too many rows to the list."""
        rows = self._filled_rows()
        found = custom_headers.problems(self.header_pairs(),
                                        basic_auth=self.auth_type.data == "basic")
        for index, part, message in found:
            if index is not None:
                rows[index].form[part].errors.append(message)
        if found:
            # FieldList gathered its rows' errors before these were added: gather them again,
            # then its own, as FieldList orders them.
            self.headers.errors = [row.errors for row in self.headers] + [
                message for index, _, message in found if index is None]
        return not found

    def _filled_rows(self):
        """Return the header rows with a name or a value; rows left empty are ignored."""
        return [row for row in self.headers if row.form.name.data or row.form.value.data]

    def header_pairs(self):
        """Return the filled rows as [(name, value)], an empty value keeping the stored one."""
        pairs = [(row.form.name.data or "", row.form.value.data or "")
                 for row in self._filled_rows()]
        return custom_headers.kept(pairs, self.stored_headers)

    def value_placeholder(self, row):
        """Return what a row's empty value input says: typed values are not shown back, and
        an empty value keeps the stored one."""
        if row.form.value.data:
            return VALUE_RETYPE
        stored = {name.lower() for name, _ in self.stored_headers}
        return VALUE_UNCHANGED if (row.form.name.data or "").lower() in stored else ""

    def add_header_row(self):
        """Append an empty header row (the Add header button without JavaScript)."""
        self.headers.append_entry()
        self.header_added = True

    def remove_header_row(self, index):
        """Drop the header row at index (a Remove button without JavaScript); None drops none."""
        name = f"{self.headers.name}-{index}"
        self.headers.entries = [row for row in self.headers if row.name != name]

    def selected_event_types(self):
        """Return the chosen event types in catalog order."""
        chosen = set(self.event_types.data or ())
        return [t for t in catalog.SUBSCRIBABLE if t in chosen]

    def apply_to(self, webhook):
        """Copy the validated fields onto a webhook (an empty password or header value keeps
        the stored one)."""
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
        webhook.custom_headers = self.header_pairs()


PERIODS = [SelectChoice("1h", "Last hour"), SelectChoice("24h", "Last 24 hours"),
           SelectChoice("7d", "Last 7 days"), SelectChoice("30d", "Last 30 days"),
           SelectChoice("custom", "Between two times…")]
PERIOD_LENGTHS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24),
                  "7d": timedelta(days=7), "30d": timedelta(days=30)}
START_REQUIRED = "Enter when the period starts."
END_REQUIRED = "Enter when the period ends."
END_BEFORE_START = "The end must be after the start."


class ResendWindowForm(FlaskForm):
    """Which failed deliveries to resend: a period (or two times in the person's time zone,
    whose offset the page's script fills in; UTC without it) and, optionally, one event type."""

    class Meta:
        csrf = False  # it also counts on GET; CSRFProtect checks every POST before the view

    period = SelectField("Period", choices=PERIODS, default="24h")
    start = DateTimeLocalField("From", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    end = DateTimeLocalField("To", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    tz_offset = IntegerField(validators=[Optional(), NumberRange(-14 * 60, 14 * 60)])
    event_type = SelectField("Event", choices=[], default="")
    # The confirmation sends the exact period that was counted (ISO 8601, UTC).
    counted_from = HiddenField()
    counted_to = HiddenField()

    def __init__(self, *args, event_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.event_type.choices = [SelectChoice("", "All events"),
                                   *(SelectChoice(t.type, t.type) for t in event_types)]

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        if self.period.data != "custom":
            return True
        if self.start.data is None:
            self.start.errors.append(START_REQUIRED)
        if self.end.data is None:
            self.end.errors.append(END_REQUIRED)
        if self.start.data and self.end.data and self.end.data <= self.start.data:
            self.end.errors.append(END_BEFORE_START)
        return not (self.start.errors or self.end.errors)

    def window(self, now):
        """Return (start, end) in UTC for the valid form: the period counted, if it was."""
        counted = _counted(self.counted_from.data, self.counted_to.data)
        if counted:
            return counted
        if self.period.data != "custom":
            return now - PERIOD_LENGTHS[self.period.data], now
        offset = timedelta(minutes=self.tz_offset.data or 0)
        return tuple((moment - offset).replace(tzinfo=timezone.utc)
                     for moment in (self.start.data, self.end.data))


def _counted(start, end):
    """Return (start, end) of two ISO 8601 times with a zone, end after start; else None."""
    try:
        start, end = (datetime.fromisoformat(value).astimezone(timezone.utc)
                      for value in (start, end))
    except (TypeError, ValueError):
        return None
    return (start, end) if start < end else None
