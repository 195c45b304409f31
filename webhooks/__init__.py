"""Webhooks: organization-scoped outbound webhooks for a host application.

Flask is imported only by create_app(), so a host application can use webhooks.client alone.
"""
__version__ = "0.1.0"


def create_app(test_config=None):
    """Create and configure the application."""
    from .factory import create_app as build

    return build(test_config)
