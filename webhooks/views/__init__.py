"""Browser views, one blueprint per module."""
