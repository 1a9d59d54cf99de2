"""Fixtures for the fault tests: one private PostgreSQL for the session (each test
gets its own database there), ChronoFlow processes, and cleanup even on failure."""
import uuid

import pytest

from chronoflow.queue import UTCRedisStorage

from ..conftest import REDIS_URL
from .cluster import Cluster
from .services import PrivatePostgres, PrivateRedis


@pytest.fixture(scope="session")
def private_postgres():
    server = PrivatePostgres().start()
    yield server
    server.close()


@pytest.fixture
def make_cluster(private_postgres, tmp_path):
    """make_cluster(postgres=None, redis_url=None) -> a migrated Cluster with its own
    database and queue; the shared Redis (private keys) unless redis_url is given."""
    made = []

    def make(postgres=None, redis_url=None):
        server = postgres or private_postgres
        url = server.create_database(f"faults_{uuid.uuid4().hex[:8]}")
        cluster = Cluster({"DATABASE_URL": url, "REDIS_URL": redis_url or REDIS_URL}, tmp_path)
        made.append((cluster, redis_url))
        return cluster.migrate()

    yield make
    for cluster, redis_url in made:
        cluster.close()
        if redis_url is None:  # the shared Redis: remove our keys, nobody else's
            storage = UTCRedisStorage(cluster.env["QUEUE_NAME"], url=REDIS_URL)
            storage.flush_all()
            storage.conn.connection_pool.disconnect()


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.close()


@pytest.fixture
def second_postgres():
    """A PostgreSQL of its own, for the test that restarts it."""
    server = PrivatePostgres().start()
    yield server
    server.close()
