"""Log History tests: Acme Roofing's signed-in owner and its webhook "CRM"."""
import pytest


@pytest.fixture
def org(owner):
    return owner


@pytest.fixture
def webhook(factory, org):
    return factory.webhook(org, url="https://hooks.example.com/in", name="CRM")
