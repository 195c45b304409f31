"""Text that people type: control characters (NUL, tabs, escapes, line breaks) never get stored."""
import unicodedata

from wtforms import ValidationError


def control_character_in(text):
    """Return the first control character of text as "U+0000", or None."""
    for char in text or "":
        if unicodedata.category(char) == "Cc":
            return f"U+{ord(char):04X}"
    return None


class NoControlCharacters:
    """Form validator: refuse a value holding a control character, naming the field and it."""

    def __call__(self, form, field):
        found = control_character_in(field.data if isinstance(field.data, str) else None)
        if found:
            raise ValidationError(f"{field.label.text} cannot contain control characters "
                                  f"(such as NUL, a tab or a line break; found {found}).")
