"""Browser tests: a real server (uvicorn in a thread, its own fresh database) driven by Chromium.

Skipped with a reason when /usr/bin/chromium is missing, unless SOUK_REQUIRE_BROWSER=1 (CI sets it), in
which case a missing browser fails the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from fixtures.core import TEST_SECRET, test_database_url
from souk.app import create_app
from souk.auth.passwords import hash_password
from souk.config import Settings
from souk.db import create_engine
from souk.models import Base

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAVE_CHROMIUM:
        return
    if os.environ.get("SOUK_REQUIRE_BROWSER") == "1":
        return  # the browser fixture fails loudly instead
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _fresh_database(data_dir: Path) -> str:
    base = test_database_url()
    if base.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{data_dir / 'e2e.db'}"
    else:
        parsed = make_url(base)
        name = f"{parsed.database}_e2e"
        admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        await admin.dispose()
        url = parsed.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await _seed(engine)
    await engine.dispose()
    return url


OPERATOR_EMAIL = "operator@e2e.test"
OPERATOR_PASSWORD = "operator-password-e2e"


async def _seed(engine: object) -> None:
    """What an operator sets up before sellers arrive: categories and an operator account."""
    from souk.db import create_sessionmaker
    from souk.models import Category, User

    async with create_sessionmaker(engine).begin() as session:  # type: ignore[arg-type]
        home = Category(name="Home & Kitchen", slug="home-kitchen", position=1)
        session.add(home)
        await session.flush()
        session.add(Category(name="Mugs & Cups", slug="mugs-cups", parent_id=home.id))
        session.add(Category(name="Fashion", slug="fashion", position=2))
        session.add(
            User(
                email=OPERATOR_EMAIL,
                password_hash=hash_password(OPERATOR_PASSWORD),
                display_name="Olga Operator",
                is_operator=True,
            )
        )


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
async def live_server() -> AsyncIterator[LiveServer]:
    data_dir = Path(tempfile.mkdtemp(prefix="souk-e2e-"))
    url = await _fresh_database(data_dir)
    settings = Settings(
        data_dir=data_dir, database_url=url, secret_key=TEST_SECRET, password_hash_profile="cheapest"
    )
    server = LiveServer(settings)
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    if not HAVE_CHROMIUM:
        pytest.fail(f"SOUK_REQUIRE_BROWSER=1 but there is no Chromium at {CHROMIUM}")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser) -> AsyncIterator[object]:  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(15000)
    yield page
    await context.close()


@pytest.fixture
def sample_png() -> Iterator[Path]:
    from PIL import Image, ImageDraw

    path = Path(tempfile.mkdtemp()) / "product.png"
    img = Image.new("RGB", (640, 640), (217, 72, 15))
    ImageDraw.Draw(img).ellipse((120, 120, 520, 520), fill=(255, 241, 232))
    img.save(path)
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)
