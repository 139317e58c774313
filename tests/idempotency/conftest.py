"""The idempotency tests run on the real app plus a few routes that use the helpers the way the checkout and
payment routes do (``fixtures.idempotency_routes``)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from fixtures.idempotency_routes import router
from souk.app import create_app
from souk.config import Settings


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    """The app with the test routes (overrides the session-wide ``app`` for these tests)."""
    application = create_app(settings)
    application.include_router(router)
    return application
