"""Test fixtures: a real database per run (SQLite file, or PostgreSQL when SOUK_TEST_DATABASE_URL is set),
one rolled-back transaction per test, the app bound to that transaction, and factories."""

from fixtures.buying import *  # noqa: F403
from fixtures.catalog import *  # noqa: F403
from fixtures.core import *  # noqa: F403
from fixtures.factories import *  # noqa: F403
from fixtures.ledger import *  # noqa: F403
from fixtures.listings import *  # noqa: F403
from fixtures.orders import *  # noqa: F403
from fixtures.parallel import *  # noqa: F403
from fixtures.party import *  # noqa: F403
from fixtures.servers import *  # noqa: F403
from fixtures.sourcing import *  # noqa: F403
from fixtures.sql_counter import *  # noqa: F403
from fixtures.worker import *  # noqa: F403
