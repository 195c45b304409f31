"""RQ entry points: the worker process, delivery jobs and the periodic reconciler."""
