"""What the database benchmarks share: a throwaway PostgreSQL database per run."""
import os
import uuid
from contextlib import contextmanager

import psycopg

# A database the benchmarks can connect to in order to CREATE and DROP their own.
PG_ADMIN = os.environ.get("WEBHOOKS_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def postgres_database(prefix):
    """Create a database for this run; yield its DSN (postgresql://…); drop it afterwards."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlalchemy_url(dsn):
    """The SQLAlchemy URL of a postgresql:// DSN (psycopg 3)."""
    return dsn.replace("postgresql://", "postgresql+psycopg://", 1)
