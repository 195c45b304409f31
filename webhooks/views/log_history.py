"""Log History on the webhook's detail screen: deliveries, attempts, resend, test event, secret."""
from flask import Blueprint

bp = Blueprint("log_history", __name__, url_prefix="/orgs/<slug>/webhooks/<int:webhook_id>")
