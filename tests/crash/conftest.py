"""A throwaway PostgreSQL cluster for the crash suite: the database-shutdown test stops it with an immediate
shutdown (no checkpoint, no clean-up: what a power cut leaves, recovered from the WAL on the next start) many
times, which must never happen to the shared server the other tests use.

The cluster is made with ``initdb`` into a temporary directory owned by the ``postgres`` OS user (``initdb``
refuses to run as root; as root the commands run through ``runuser -u postgres``), listens on 127.0.0.1 on a free
port with trust authentication, and keeps ``fsync`` and ``synchronous_commit`` on: an acknowledged commit must
survive the shutdown. It is stopped and deleted after the test.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from crash_cluster import PgCluster, postgres_bin

from fixtures.core import is_postgres
from fixtures.servers import free_port


@pytest.fixture
def crash_pg_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[PgCluster]:
    """A running throwaway cluster; ``SOUK_TEST_DATABASE_URL`` points at it for the test, so ``souk_servers``
    makes its fresh database there. Skipped on the SQLite pass."""
    if not is_postgres():
        pytest.skip("stops a PostgreSQL server: runs on the PostgreSQL pass (SOUK_TEST_DATABASE_URL)")
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.fail("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    root = Path(tempfile.mkdtemp(prefix="souk-crash-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PgCluster(bin_dir, root, free_port())
    try:
        cluster.init()
        cluster.start()
        monkeypatch.setenv("SOUK_TEST_DATABASE_URL", cluster.url())
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            cluster.stop_immediately()
        shutil.rmtree(root, ignore_errors=True)
