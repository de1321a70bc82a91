"""PostgreSQL for the tests: the server named by ``$EMS_TEST_POSTGRES_URL``, a fresh database per test.

``.ci/run`` starts a real PostgreSQL 15 on 127.0.0.1 and exports the URL (for example
``postgresql://postgres@127.0.0.1:55432/postgres``); without it every test that uses these
fixtures skips and says why. Only loopback servers are accepted: the fixtures create and drop
databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ENV = "EMS_TEST_POSTGRES_URL"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _admin_connection(url: str):
    """An autocommit psycopg2 connection (CREATE/DROP DATABASE cannot run in a transaction)."""
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = psycopg2.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, dbname=u.database or "postgres"
    )
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL (skips without ``$EMS_TEST_POSTGRES_URL``; fails if it does not answer)."""
    url = os.environ.get(ENV, "").strip()
    if not url:
        pytest.skip(f"no PostgreSQL server: set {ENV} (.ci/run starts one on 127.0.0.1)")
    try:
        import psycopg2
    except ImportError:
        pytest.skip("psycopg2 not installed: pip install -e '.[postgres]'")
    from sqlalchemy.engine import make_url

    host = make_url(url).host
    if host not in LOOPBACK:
        pytest.fail(f"{ENV} names host {host!r}: the tests create and drop databases, so only 127.0.0.1 is used")
    try:
        _admin_connection(url).close()
    except psycopg2.Error as exc:  # a server was named but does not answer: an error, not a skip
        pytest.fail(f"{ENV}={url}: cannot connect: {exc}")
    return url


@contextmanager
def fresh_database(postgres_url: str) -> Iterator[str]:
    """URL of a new, empty database (``ems_test_<random>``) on the test server, dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = f"ems_test_{uuid.uuid4().hex[:12]}"
    conn = _admin_connection(postgres_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    """URL of a new, empty database, dropped after the test."""
    with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture
def postgres_db2(postgres_url: str) -> Iterator[str]:
    """A second one (Optuna and MLflow both keep an ``alembic_version`` table: one database each)."""
    with fresh_database(postgres_url) as url:
        yield url
