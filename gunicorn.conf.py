"""gunicorn's settings for the web process (Procfile: `web`); PORT and WEB_CONCURRENCY as the
platform sets them."""
import os

from gunicorn.glogging import Logger

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
# The app logs each request itself (webhooks.logs: its id, route and duration, never a sign-in
# link's token), so gunicorn's access log is off.
accesslog = None


class AppLogger(Logger):
    """gunicorn's own lines (starting, workers booting, errors) in the app's log format."""

    def setup(self, cfg):
        super().setup(cfg)
        from webhooks import config, logs

        logs.configure(*config.log_settings())


logger_class = AppLogger


def on_starting(server):
    from webhooks import metrics

    metrics.remove_dead_process_files()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
