"""The internal endpoint the host application posts events to."""
from flask import Blueprint

bp = Blueprint("ingest", __name__, url_prefix="/internal")
