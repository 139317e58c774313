"""schemathesis over /openapi.json: every operation gets generated requests (valid and invalid), sent in-process
to the app on a seeded database of its own (``fuzz_world``), authenticated as a real user with an API token.
Every response must pass schemathesis's checks: not a server error, the status codes, content types, headers and
bodies the OpenAPI declares, schema-violating input refused, an undeclared method answered 405, and so on.

Check left out, and why:
- ``positive_data_acceptance``: the rules go beyond the schema on purpose (opaque cursors, ISO codes, stock,
  order states), so a schema-valid request may rightly get a 4xx naming the field;

CI: ``EXAMPLES`` examples per operation, examples and fuzzing phases, with a fixed seed (derandomize) so a
failure reproduces. SOUK_SOAK=1: more examples, plus the coverage phase and the stateful run (links inferred
from the responses: the ids a POST returns feed the operations that take them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fuzz_world import World, seed, soak
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from fixtures.core import TEST_SECRET
from fixtures.databases import fresh_database, run_async
from souk.app import create_app
from souk.config import Settings
from souk.db import create_engine, create_sessionmaker
from souk.models import Base
from souk.payment.service import payment_service
from souk.payout.service import payout_service

EXAMPLES = soak(ci=100, soak=200)
SOAK = soak(ci=0, soak=1) == 1
EXCLUDED = [positive_data_acceptance]
HYPOTHESIS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


async def _prepare(url: str) -> World:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        return await seed(create_sessionmaker(engine))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def fuzz_schema(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[Any]:
    """The app on a fresh seeded database (dropped afterwards) and its schema, set up for this module."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with fresh_database(tmp, "fuzz") as url:
        app_settings = Settings(
            data_dir=tmp,
            database_url=url,
            secret_key=TEST_SECRET,
            password_hash_profile="cheapest",
            worker_in_process=False,
        )
        app = create_app(app_settings)
        world = run_async(_prepare(url))
        # generous timeouts: a loaded CI machine must not turn into a failure
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, timeout=120)
        schema.config.update(headers=world.headers, request_timeout=120)
        schema.config.generation.update(max_examples=EXAMPLES, deterministic=True, database="none")
        schema.config.phases.coverage.enabled = SOAK
        try:
            yield schema
        finally:
            asgi.shutdown_lifespans()  # disposes of the app's engine on the loop that used it
            # create_app pointed the money services at this app's settings: back to the tests' own
            payment_service.configure(settings)
            payout_service.configure(settings)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@hypothesis_settings(**HYPOTHESIS)
def test_operation(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)


@pytest.mark.skipif(not SOAK, reason="the stateful run is part of the soak (SOUK_SOAK=1)")
def test_stateful(fuzz_schema: Any) -> None:
    machine = fuzz_schema.as_state_machine()

    class Machine(machine):  # type: ignore[misc,valid-type]
        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, excluded_checks=EXCLUDED)

    Machine.run(
        settings=hypothesis_settings(max_examples=soak(ci=5, soak=100), stateful_step_count=10, **HYPOTHESIS)
    )
