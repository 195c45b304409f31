"""RQ entry points: the worker process, delivery jobs, the periodic reconciler and the
periodic retention purge."""
