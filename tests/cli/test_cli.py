"""The ``souk`` command, run in-process with Typer's CliRunner against a temp data dir and its own database
(the embedded SQLite default, or a fresh PostgreSQL database when SOUK_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from fixtures.core import is_postgres
from fixtures.databases import fresh_database, run_async
from souk import cli
from souk.auth.passwords import verify_password
from souk.config import Settings
from souk.db import create_engine, create_sessionmaker
from souk.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, OPERATOR, DemoSize
from souk.demo.departments import DEPARTMENTS
from souk.demo.plan import PLANS, Planner, retail_price, wholesale_price
from souk.kit.clock import utcnow
from souk.models import (
    Category,
    Organization,
    OrganizationDocument,
    PriceTier,
    Product,
    ProductImage,
    SearchDocument,
    ShippingMethod,
    Sku,
    Stock,
    StockMovement,
    Store,
    User,
)
from souk.models.search import FTS_TABLE

runner = CliRunner()


@dataclass
class Env:
    data_dir: Path
    database_url: str
    vars: dict[str, str | None]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """SOUK_* variables for a temp data dir; on PostgreSQL also SOUK_DATABASE_URL of a fresh database."""
    data_dir = tmp_path / "data"
    with fresh_database(tmp_path, "cli") as url:
        # on SQLite no SOUK_DATABASE_URL: the embedded default, <data dir>/souk.db
        explicit = url if is_postgres() else None
        yield Env(
            data_dir=data_dir,
            database_url=explicit or Settings(data_dir=data_dir).resolved_database_url,
            vars={
                "SOUK_DATA_DIR": str(data_dir),
                "SOUK_DATABASE_URL": explicit,
                "SOUK_PASSWORD_HASH_PROFILE": "cheapest",
                "COLUMNS": "120",
            },
        )


def souk(env: Env, *args: str, input: str | None = None, **extra: str | None) -> Result:
    return runner.invoke(cli.app, list(args), env={**env.vars, **extra}, input=input)


def words(result: Result) -> str:
    """The output with line wrapping undone, for phrase checks."""
    return " ".join(result.output.split())


def query(url: str, fn: Any) -> Any:
    async def go() -> Any:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session:
                return await fn(session)
        finally:
            await engine.dispose()

    return run_async(go())


async def _count(session: AsyncSession, stmt: Any) -> int:
    return int(await session.scalar(stmt) or 0)


# --- help -------------------------------------------------------------------------------------------


def test_help_lists_every_command_with_examples(env: Env) -> None:
    result = souk(env, "--help")
    assert result.exit_code == 0, result.output
    for command, summary in [
        ("serve", "Run the web shop"),
        ("migrate", "Apply the database migrations"),
        ("demo", "Build the demo marketplace"),
        ("admin", "Manage platform operators"),
        ("search", "Maintain the built-in search index"),
    ]:
        assert command in result.output and summary in result.output
    assert "Examples" in result.output and "souk admin create ops@example.com" in result.output

    assert "create" in souk(env, "admin", "--help").output
    assert "reindex" in souk(env, "search", "--help").output
    for args in (["serve"], ["migrate"], ["demo"], ["admin", "create"], ["search", "reindex"]):
        sub = souk(env, *args, "--help")
        assert sub.exit_code == 0 and "Example" in sub.output, (args, sub.output)
    assert "--no-serve" in souk(env, "demo", "--help").output
    assert souk(env, "--version").output.strip() == "souk 0.1.0"


# --- migrate and serve ------------------------------------------------------------------------------


def test_migrate_brings_a_fresh_database_to_head_once(env: Env) -> None:
    head = cli.head_revision()
    first = souk(env, "migrate")
    assert first.exit_code == 0, first.output
    assert f"to revision {head} (head)" in words(first)
    assert run_async(cli.current_revision(env.database_url)) == head

    again = souk(env, "migrate")
    assert again.exit_code == 0
    assert f"is up to date at revision {head}" in words(again)


def test_migrate_reports_an_unreachable_database(env: Env) -> None:
    result = souk(env, "migrate", SOUK_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/nothing")
    assert result.exit_code == 1
    assert "cannot reach the database postgresql+asyncpg://nobody@127.0.0.1:1/nothing" in words(result)


def test_migrate_explains_a_revision_it_does_not_know(env: Env) -> None:
    assert souk(env, "migrate").exit_code == 0

    async def from_the_future(session: AsyncSession) -> None:
        await session.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
        await session.commit()

    query(env.database_url, from_the_future)
    result = souk(env, "migrate")
    assert result.exit_code == 1
    assert "Can't locate revision identified by 'f00dfeed'" in words(result)


class FakeUvicorn:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def run(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeUvicorn:
    """Records how ``souk`` would start uvicorn instead of starting it."""
    fake = FakeUvicorn()
    monkeypatch.setattr(cli.uvicorn, "run", fake.run)
    return fake


def test_serve_refuses_a_database_that_is_not_migrated(env: Env, tmp_path: Path, server: FakeUvicorn) -> None:
    with fresh_database(tmp_path, "srv") as url:
        result = souk(env, "serve", SOUK_DATABASE_URL=url)
    assert result.exit_code == 1
    assert "has never been migrated" in words(result)
    assert "Run souk migrate first" in words(result)
    assert server.calls == []


def test_serve_runs_the_app_factory_once_migrated(env: Env, server: FakeUvicorn) -> None:
    assert souk(env, "migrate").exit_code == 0
    result = souk(env, "serve", "--host", "0.0.0.0", "--port", "8765", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert server.calls == [
        (
            ("souk.app:create_app",),
            {
                "factory": True,
                "host": "0.0.0.0",
                "port": 8765,
                "workers": 2,
                "log_level": "info",
                "log_config": cli._server_log_config(),
            },
        )
    ]
    # the in-process worker's log lines reach the terminal next to uvicorn's
    assert server.calls[0][1]["log_config"]["loggers"]["souk"] == {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    assert "http://127.0.0.1:8765/" in result.output


@pytest.mark.skipif(is_postgres(), reason="the embedded default database is SQLite")
def test_serve_migrates_the_embedded_sqlite_database_itself(env: Env, server: FakeUvicorn) -> None:
    result = souk(env, "serve")
    assert result.exit_code == 0, result.output
    assert "migrations are applied automatically on the default database" in words(result)
    assert (env.data_dir / "souk.db").exists()
    assert run_async(cli.current_revision(env.database_url)) == cli.head_revision()
    assert server.calls[0][1]["port"] == 8000 and server.calls[0][1]["host"] == "127.0.0.1"


# --- admin ------------------------------------------------------------------------------------------


async def _user(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


def test_admin_create_makes_an_operator(env: Env) -> None:
    assert souk(env, "migrate").exit_code == 0
    result = souk(
        env, "admin", "create", "Ops@Example.com", "--password", "correct horse 42", "--name", "Ops Team"
    )
    assert result.exit_code == 0, result.output
    assert "Created platform operator ops@example.com" in words(result)

    user = query(env.database_url, lambda s: _user(s, "ops@example.com"))
    assert user is not None and user.is_operator and user.display_name == "Ops Team"
    assert verify_password(user.password_hash, "correct horse 42")
    operators = query(env.database_url, lambda s: _count(s, select(func.count()).where(User.is_operator)))
    assert operators == 1


def test_admin_create_asks_for_the_password_twice(env: Env) -> None:
    assert souk(env, "migrate").exit_code == 0
    result = souk(env, "admin", "create", "night@example.com", input="tea at midnight\ntea at midnight\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat for confirmation:" in result.output
    assert "tea at midnight" not in result.output  # hidden input

    user = query(env.database_url, lambda s: _user(s, "night@example.com"))
    assert user.is_operator and user.display_name == "night"
    assert verify_password(user.password_hash, "tea at midnight")


def test_admin_create_promotes_an_existing_account_without_asking(env: Env) -> None:
    assert souk(env, "migrate").exit_code == 0

    async def register(session: AsyncSession) -> None:
        from souk.account.service import account_service

        await account_service.create_user(session, "buyer@example.com", "buyer password 1", "Bea Buyer")
        await session.commit()

    query(env.database_url, register)
    result = souk(env, "admin", "create", "buyer@example.com")
    assert result.exit_code == 0, result.output
    assert "Promoted buyer@example.com (Bea Buyer" in words(result)
    assert "Password" not in result.output

    user = query(env.database_url, lambda s: _user(s, "buyer@example.com"))
    assert user.is_operator and verify_password(user.password_hash, "buyer password 1")


def test_admin_create_refuses_a_short_password(env: Env) -> None:
    assert souk(env, "migrate").exit_code == 0
    result = souk(env, "admin", "create", "ops@example.com", "--password", "short")
    assert result.exit_code == 1
    assert "password:" in words(result) and "at least 10 characters" in words(result)
    assert query(env.database_url, lambda s: _user(s, "ops@example.com")) is None


def test_admin_create_refuses_an_empty_name(env: Env) -> None:
    result = souk(env, "admin", "create", "ops@example.com", "--password", "correct horse 42", "--name", "  ")
    assert result.exit_code == 1
    assert "--name must be 1 to 80 characters" in words(result)


def test_admin_create_on_an_unmigrated_database_says_to_migrate(env: Env, tmp_path: Path) -> None:
    with fresh_database(tmp_path, "adm") as url:
        result = souk(
            env, "admin", "create", "ops@example.com", "--password", "correct horse 42", SOUK_DATABASE_URL=url
        )
    assert result.exit_code == 1
    assert "Run souk migrate first" in words(result)


# --- demo -------------------------------------------------------------------------------------------


@dataclass
class Counts:
    stores: dict[tuple[str, str], int]
    currencies: set[str]
    pending_organizations: int
    products: int
    active_products_of_active_stores: int
    skus: int
    skus_with_stock: int
    initial_movements_matching_stock: int
    top_categories: int
    children_per_top: list[int]
    images: int
    visible_documents: int
    brand_documents_of_pending_stores: int


async def _counts(session: AsyncSession) -> Counts:
    stores = {
        (m, s): n
        for m, s, n in (
            await session.execute(
                select(Store.trade_model, Store.status, func.count()).group_by(
                    Store.trade_model, Store.status
                )
            )
        ).all()
    }
    tops = (await session.scalars(select(Category.id).where(Category.parent_id.is_(None)))).all()
    children = [await _count(session, select(func.count()).where(Category.parent_id == top)) for top in tops]
    return Counts(
        stores=stores,
        currencies=set((await session.scalars(select(Store.currency).distinct())).all()),
        pending_organizations=await _count(
            session, select(func.count()).where(Organization.status == "pending_review")
        ),
        products=await _count(session, select(func.count()).select_from(Product)),
        active_products_of_active_stores=await _count(
            session,
            select(func.count())
            .select_from(Product)
            .join(Store, Store.id == Product.store_id)
            .where(Product.status == "active", Store.status == "active"),
        ),
        skus=await _count(session, select(func.count()).select_from(Sku)),
        skus_with_stock=await _count(
            session,
            select(func.count())
            .select_from(Sku)
            .join(Stock, Stock.sku_id == Sku.id)
            .where(Stock.on_hand > 0),
        ),
        initial_movements_matching_stock=await _count(
            session,
            select(func.count())
            .select_from(StockMovement)
            .join(Stock, Stock.sku_id == StockMovement.sku_id)
            .where(
                StockMovement.kind == "initial",
                StockMovement.delta == StockMovement.on_hand_after,
                # the demo's orders sold a few units since (souk.demo.activity)
                Stock.on_hand <= StockMovement.on_hand_after,
            ),
        ),
        top_categories=len(tops),
        children_per_top=children,
        images=await _count(session, select(func.count()).select_from(ProductImage)),
        visible_documents=await _count(session, select(func.count()).where(SearchDocument.visible.is_(True))),
        brand_documents_of_pending_stores=await _count(
            session,
            select(func.count())
            .select_from(OrganizationDocument)
            .join(Store, Store.id == OrganizationDocument.store_id)
            .where(OrganizationDocument.kind == "brand_authorization", Store.status == "pending_review"),
        ),
    )


async def _search_creme(session: AsyncSession) -> list[tuple[str, str]]:
    """(title, description) of the visible products that an accent-free search for "creme" finds."""
    if is_postgres():
        ids = select(SearchDocument.product_id).where(text("tsv @@ to_tsquery('simple', 'creme')"))
    else:
        ids = select(text("rowid")).select_from(text(FTS_TABLE)).where(text(f"{FTS_TABLE} MATCH 'creme'"))
    stmt = (
        select(Product.title, Product.description)
        .join(SearchDocument, SearchDocument.product_id == Product.id)
        .where(Product.id.in_(ids), SearchDocument.visible.is_(True))
    )
    return [(title, description) for title, description in (await session.execute(stmt)).all()]


async def _sourcing_products(session: AsyncSession) -> list[tuple[Product, list[PriceTier]]]:
    products = (
        await session.scalars(
            select(Product).join(Store, Store.id == Product.store_id).where(Store.trade_model == "sourcing")
        )
    ).all()
    tiers = (await session.scalars(select(PriceTier).order_by(PriceTier.min_quantity))).all()
    by_product: dict[int, list[PriceTier]] = {}
    for tier in tiers:
        by_product.setdefault(tier.product_id, []).append(tier)
    return [(p, by_product.get(p.id, [])) for p in products]


def test_demo_builds_every_trade_model_then_reuses_it(env: Env) -> None:
    result = souk(env, "demo", "--no-serve", "--size", "small")
    assert result.exit_code == 0, result.output
    out = words(result)
    assert "Demo marketplace built in" in out
    assert f"password for all: {DEMO_PASSWORD}" in out
    for account in DEMO_ACCOUNTS:
        assert account.email in out
    assert "Open http://127.0.0.1:8000/" in out

    counts: Counts = query(env.database_url, _counts)
    assert counts.stores == {
        ("sourcing", "active"): 1,
        ("sourcing", "pending_review"): 1,
        ("market", "active"): 1,
        ("mall", "active"): 1,
        ("mall", "pending_review"): 1,
        ("crossborder", "active"): 1,
    }
    assert counts.currencies == {"USD", "CNY", "EUR", "INR"}
    assert counts.pending_organizations == 1
    assert counts.brand_documents_of_pending_stores == 1
    assert counts.products == 60
    assert counts.skus > counts.products  # products have variants
    assert counts.skus_with_stock == counts.skus
    assert counts.initial_movements_matching_stock == counts.skus
    assert counts.top_categories == 9
    assert all(4 <= n <= 6 for n in counts.children_per_top), counts.children_per_top
    assert counts.images >= counts.products
    assert counts.visible_documents == counts.active_products_of_active_stores > 0

    # every store can be bought from: a surface and an express shipping method in its own currency
    methods = query(
        env.database_url,
        lambda s: _all(
            s,
            select(ShippingMethod.kind, func.count())
            .join(Store, Store.id == ShippingMethod.store_id)
            .where(ShippingMethod.currency == Store.currency)
            .group_by(ShippingMethod.kind),
        ),
    )
    assert dict(methods) == {"surface": 6, "express": 6}

    paths = query(env.database_url, lambda s: _all(s, select(ProductImage.path, ProductImage.thumb_path)))
    public = env.data_dir / "uploads" / "public"
    assert all((public / p).is_file() and (public / t).is_file() for p, t in paths)

    found = query(env.database_url, _search_creme)
    assert any("crème" in f"{title} {description}".lower() for title, description in found), found

    sourcing = query(env.database_url, _sourcing_products)
    assert sourcing
    for product, tiers in sourcing:
        assert product.moq and product.lead_time_days and product.sample_price_amount
        assert 2 <= len(tiers) <= 4 and tiers[0].min_quantity == product.moq
        prices = [t.unit_price_amount for t in tiers]
        assert prices == sorted(prices, reverse=True) and len(set(prices)) == len(prices)

    operator = query(env.database_url, lambda s: _user(s, OPERATOR.email))
    assert operator.is_operator and verify_password(operator.password_hash, DEMO_PASSWORD)

    again = souk(env, "demo", "--no-serve", "--size", "small")
    assert again.exit_code == 0, again.output
    assert "Reusing the demo marketplace" in words(again)
    assert query(env.database_url, _counts) == counts


async def _all(session: AsyncSession, stmt: Any) -> list[Any]:
    return list((await session.execute(stmt)).all())


def test_demo_reset_builds_it_again(env: Env) -> None:
    assert souk(env, "demo", "--no-serve", "--size", "small").exit_code == 0
    first: Counts = query(env.database_url, _counts)
    stray = env.data_dir / "uploads" / "public" / "products" / "zz" / "left-over.jpg"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"old")

    result = souk(env, "demo", "--no-serve", "--size", "small", "--reset")
    assert result.exit_code == 0, result.output
    assert "Removed the previous demo marketplace" in words(result)
    assert "Demo marketplace built in" in words(result)
    assert query(env.database_url, _counts) == first
    assert not stray.exists()


def test_demo_refuses_a_database_with_other_accounts(env: Env) -> None:
    assert souk(env, "migrate").exit_code == 0
    assert souk(env, "admin", "create", "owner@example.com", "--password", "correct horse 42").exit_code == 0

    build = souk(env, "demo", "--no-serve", "--size", "small")
    assert build.exit_code == 1
    assert "only builds into an empty database" in words(build)
    reset = souk(env, "demo", "--no-serve", "--size", "small", "--reset")
    assert reset.exit_code == 1
    assert "holds other data" in words(reset)

    assert query(env.database_url, lambda s: _user(s, "owner@example.com")) is not None
    assert query(env.database_url, lambda s: _count(s, select(func.count()).select_from(Product))) == 0


def test_search_reindex_rebuilds_the_index(env: Env) -> None:
    assert souk(env, "demo", "--no-serve", "--size", "small").exit_code == 0
    visible = query(env.database_url, _counts).visible_documents

    async def hide_all(session: AsyncSession) -> None:
        await session.execute(update(SearchDocument).values(visible=False, title="", body=""))
        await session.commit()

    query(env.database_url, hide_all)
    assert query(env.database_url, _counts).visible_documents == 0

    result = souk(env, "search", "reindex")
    assert result.exit_code == 0, result.output
    assert "Indexed 60 products" in words(result)
    assert query(env.database_url, _counts).visible_documents == visible
    assert query(env.database_url, _search_creme)


# --- the demo plan (no database) --------------------------------------------------------------------


def test_full_demo_plan_is_big_enough_and_the_same_every_time() -> None:
    now = utcnow()
    plan = PLANS[DemoSize.full]
    drafts = Planner(plan, now).products()
    again = Planner(plan, now).products()
    assert [(d.title, [s.price_amount for s in d.skus]) for d in drafts] == [
        (d.title, [s.price_amount for s in d.skus]) for d in again
    ]

    models = {spec.trade_model for spec in plan.stores}
    assert models == {"sourcing", "market", "mall", "crossborder"}
    assert len(plan.stores) >= 40 and len(drafts) >= 2000
    assert len({spec.currency for spec in plan.stores}) >= 8
    assert all(d.skus and all(s.price_amount > 0 and s.on_hand > 0 for s in d.skus) for d in drafts)
    assert sum(len(d.skus) > 1 for d in drafts) > len(drafts) * 0.8
    assert len({key for d in drafts for key in d.images}) >= 300
    assert any("Crème" in d.title for d in drafts) and any("Café" in d.title for d in drafts)
    assert len({d.title for d in drafts}) > len(drafts) * 0.95
    leaves = [leaf.name for department in DEPARTMENTS for leaf in department.leaves]
    assert len(leaves) == len(set(leaves))  # the builder files products by leaf name
    assert 8 <= len(DEPARTMENTS) <= 10 and all(4 <= len(d.leaves) <= 6 for d in DEPARTMENTS)


def test_prices_follow_each_currency() -> None:
    assert retail_price(12.5, "USD") == 1299  # $12.99
    assert retail_price(12.5, "CNY") == 9090  # ¥90.90
    assert retail_price(13.2, "JPY") == 1980  # ¥1,980 (no minor unit)
    assert retail_price(19.0, "KRW") == 25900  # ₩25,900
    assert retail_price(6.0, "INR") == 49900  # ₹499.00
    assert wholesale_price(2.35, "USD") == 235
    assert wholesale_price(2.0, "INR") == 16600
