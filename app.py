"""The WSGI entry point: `flask --app app …` and `gunicorn app:app`."""
from webhooks import create_app

app = create_app()
