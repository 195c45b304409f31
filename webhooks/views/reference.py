"""The in-app event reference: every event type, its fields and an example."""
from flask import Blueprint

bp = Blueprint("reference", __name__)
