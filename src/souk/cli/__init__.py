"""The ``souk`` command: serve the marketplace, migrate its database, make operators, build the demo,
rebuild the search index.

Every command reads the same settings as the app (``SOUK_*`` environment variables, see ``souk.config``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import shutil
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from souk import __version__
from souk.config import Settings, get_settings
from souk.db import create_engine, create_sessionmaker, refresh_statistics
from souk.demo import DemoSize, DemoSummary
from souk.migrate import head_revision

if TYPE_CHECKING:
    from souk.worker.runner import WorkerStats

EXAMPLES = """[bold]Examples[/bold]

  [cyan]souk demo[/cyan]                                build the demo marketplace and open it on http://127.0.0.1:8000

  [cyan]souk migrate && souk serve --port 8080[/cyan]   run your own marketplace

  [cyan]souk admin create ops@example.com[/cyan]        make a platform operator (asks for the password)

  [cyan]souk search reindex[/cyan]                      rebuild the search index

  [cyan]souk worker[/cyan]                              run background jobs and timers beside the web server

Settings come from [bold]SOUK_*[/bold] environment variables, e.g.
[cyan]SOUK_DATABASE_URL=postgresql+asyncpg://user@host/db souk migrate[/cyan]
"""

app = typer.Typer(
    name="souk",
    help="Souk: one marketplace engine for sourcing, market, mall and global (cross-border) trade.",
    epilog=EXAMPLES,
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
admin_app = typer.Typer(
    help="Manage platform operators.", no_args_is_help=True, rich_markup_mode="rich", add_completion=False
)
search_app = typer.Typer(
    help="Maintain the built-in search index.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
)
app.add_typer(admin_app, name="admin")
app.add_typer(search_app, name="search")

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

HostOption = Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]


# --- database state ---------------------------------------------------------------------------------


def safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


async def current_revision(url: str) -> str | None:
    """The Alembic revision the database is at; None when it was never migrated."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            migrated = await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version"))
            if not migrated:
                return None
            revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            return str(revision) if revision else None
    finally:
        await engine.dispose()


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]Error:[/red] {message}")
    return typer.Exit(1)


def _revision_or_exit(url: str) -> str | None:
    try:
        return asyncio.run(current_revision(url))
    except (SQLAlchemyError, OSError) as exc:
        raise _fail(f"cannot reach the database {safe_url(url)}: {escape(str(exc))}") from exc


def _upgrade_or_exit(url: str) -> None:
    from alembic.util import CommandError

    from souk.migrate import upgrade

    try:
        upgrade(url)
    except CommandError as exc:
        # e.g. the database is at a revision this version of Souk does not have
        raise _fail(f"cannot migrate {safe_url(url)}: {escape(str(exc))}") from exc
    except (SQLAlchemyError, OSError) as exc:
        raise _fail(f"migrating {safe_url(url)} failed: {escape(str(exc))}") from exc


def ensure_migrated(settings: Settings) -> None:
    """Stop unless the database is at the newest revision; the embedded SQLite default is migrated here."""
    url = settings.resolved_database_url
    current = _revision_or_exit(url)
    head = head_revision()
    if current == head:
        return
    if settings.database_url is None:
        action = "creating" if current is None else "upgrading"
        console.print(
            f"Embedded SQLite database [bold]{_sqlite_file(url)}[/bold]: {action} it "
            "(migrations are applied automatically on the default database)."
        )
        _upgrade_or_exit(url)
        return
    state = "has never been migrated" if current is None else f"is at revision {current}"
    raise _fail(
        f"the database {safe_url(url)} {state}; this version of Souk needs revision {head}.\n"
        "Run [bold]souk migrate[/bold] first, then start again."
    )


# --- serve ------------------------------------------------------------------------------------------


def _browse_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - only a display name
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _server_log_config() -> dict[str, Any]:
    """uvicorn's logging plus Souk's own loggers (the in-process worker says what it runs)."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["souk"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _run_server(host: str, port: int, workers: int) -> None:
    url = _browse_url(host, port)
    console.print(f"Souk is running at [bold]{url}[/bold] (API docs at {url}docs). Press Ctrl+C to stop.")
    uvicorn.run(
        "souk.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=_server_log_config(),
    )


@app.command(epilog="Example: [cyan]souk serve --host 0.0.0.0 --port 8080 --workers 2[/cyan]")
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (about one per CPU core).")] = 1,
) -> None:
    """Run the web shop, seller centre, ops console and JSON API (uvicorn)."""
    settings = get_settings()
    settings.ensure_dirs()
    ensure_migrated(settings)
    _run_server(host, port, workers)


# --- worker -----------------------------------------------------------------------------------------


def _worker_logging() -> None:
    from rich.logging import RichHandler

    handler = RichHandler(console=errors, show_path=False, rich_tracebacks=False, markup=False)
    logger = logging.getLogger("souk")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


async def _work(settings: Settings, once: bool, concurrency: int) -> WorkerStats:
    from souk.worker.runner import Worker

    engine = create_engine(settings.resolved_database_url, pool_size=concurrency + 2)
    try:
        worker = Worker(
            create_sessionmaker(engine),
            concurrency=concurrency,
            poll_seconds=settings.worker_poll_seconds,
            lease_seconds=settings.worker_lease_seconds,
        )
        if once:
            return await worker.run_once()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, worker.stop)
        console.print(
            f"Worker [bold]{worker.name}[/bold] running {len(worker.handlers)} job kinds and "
            f"{len(worker.timers)} timers on {safe_url(settings.resolved_database_url)}, "
            f"{concurrency} at a time. Press Ctrl+C to stop (running jobs finish first)."
        )
        await worker.run_forever()
        return worker.stats
    finally:
        await engine.dispose()


@app.command(
    "worker",
    epilog="Examples: [cyan]souk worker[/cyan] (run until stopped), [cyan]souk worker --once[/cyan] "
    "(run what is due now, then exit), [cyan]souk worker --concurrency 4[/cyan]",
)
def worker_command(
    once: Annotated[
        bool, typer.Option("--once", help="Run every due job and every timer once, then exit.")
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Jobs run at the same time (default: SOUK_WORKER_CONCURRENCY)."),
    ] = None,
) -> None:
    """Run background jobs and timers (closing unpaid orders, auto-confirming receipt ...) until stopped.

    [bold]souk serve[/bold] already runs a worker inside the web process (unless SOUK_WORKER_IN_PROCESS=false). On PostgreSQL several workers may run side by side."""
    from souk.trade.policy import configure_policies

    settings = get_settings()
    settings.ensure_dirs()
    ensure_migrated(settings)
    try:
        configure_policies()
    except ValueError as exc:
        raise _fail(escape(str(exc))) from exc
    _worker_logging()
    stats = asyncio.run(_work(settings, once, concurrency or settings.worker_concurrency))
    console.print(f"Worker: {stats.summary()}.")
    if once and (stats.jobs_failed or stats.timer_errors):
        raise _fail("some jobs failed for good or some timers failed; see the log above.")


# --- migrate ----------------------------------------------------------------------------------------


@app.command(epilog="Example: [cyan]SOUK_DATABASE_URL=postgresql+asyncpg://souk@db/souk souk migrate[/cyan]")
def migrate() -> None:
    """Apply the database migrations (Alembic) up to the newest revision."""
    settings = get_settings()
    settings.ensure_dirs()
    url = settings.resolved_database_url
    before = _revision_or_exit(url)
    head = head_revision()
    if before == head:
        console.print(f"Database {safe_url(url)} is up to date at revision [bold]{head}[/bold].")
        return
    started = time.perf_counter()
    _upgrade_or_exit(url)
    after = _revision_or_exit(url)
    console.print(
        f"Migrated {safe_url(url)} from {before or 'an empty database'} to revision [bold]{after}[/bold] "
        f"(head) in {time.perf_counter() - started:.1f} s."
    )


# --- admin ------------------------------------------------------------------------------------------


async def _user_exists(url: str, email: str) -> bool:
    from souk.models import User

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            found = await session.scalar(select(User.id).where(User.email == email))
            return found is not None
    finally:
        await engine.dispose()


async def _make_operator(url: str, email: str, password: str | None, name: str | None) -> tuple[int, str]:
    from souk.account.schemas import ProfileUpdate
    from souk.account.service import account_service
    from souk.auth.actor import Actor

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            user = await account_service.make_operator(session, email, password)
            if name is not None:
                actor = Actor(
                    user_id=user.id, is_operator=True, display_name=user.display_name, email=user.email
                )
                user = await account_service.update_profile(session, actor, ProfileUpdate(display_name=name))
            return user.id, user.display_name
    finally:
        await engine.dispose()


@admin_app.command(
    "create",
    epilog="Examples: [cyan]souk admin create ops@example.com[/cyan] (asks for the password), "
    "[cyan]souk admin create ops@example.com --password '...' --name 'Ops team'[/cyan]",
)
def admin_create(
    email: Annotated[str, typer.Argument(help="Email address of the operator (their login).")],
    password: Annotated[
        str | None,
        typer.Option(help="Password (at least 10 characters); asked for, hidden, when not given."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Display name (default: the part of the email before @).")
    ] = None,
) -> None:
    """Make a platform operator: create the account, or promote an existing one."""
    from souk.errors import SoukError

    email = email.strip().lower()
    if name is not None:
        name = name.strip()
        if not 1 <= len(name) <= 80:
            raise _fail("--name must be 1 to 80 characters.")
    settings = get_settings()
    settings.ensure_dirs()
    ensure_migrated(settings)
    url = settings.resolved_database_url
    exists = asyncio.run(_user_exists(url, email))
    if not exists and password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user_id, display_name = asyncio.run(_make_operator(url, email, password, name))
    except SoukError as exc:
        problems = "; ".join(f"{field}: {problem}" for field, problem in exc.fields.items())
        raise _fail(escape(problems or exc.message)) from exc
    if exists:
        extra = " and set the new password" if password is not None else ""
        console.print(
            f"Promoted [bold]{email}[/bold] ({display_name}, user #{user_id}) to platform operator{extra}."
        )
    else:
        console.print(f"Created platform operator [bold]{email}[/bold] ({display_name}, user #{user_id}).")
    console.print("Log in at /login; the ops console is at /ops.")


# --- demo -------------------------------------------------------------------------------------------


class RichReporter:
    """Shows the demo build's stages as Rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None
        self.total = 0

    def stage(self, description: str, total: int) -> None:
        self.finish()
        self.total = max(total, 1)
        self.task = self.progress.add_task(description, total=self.total)

    def advance(self, amount: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)

    def finish(self) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.total)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


class DemoRefused(Exception):
    """The database holds data that is not the demo's."""


async def _demo_state(url: str) -> str:
    """ "demo", "empty" or "other": what the (migrated) database holds."""
    from souk.demo import find_demo, has_users

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            if await find_demo(session):
                return "demo"
            return "other" if await has_users(session) else "empty"
    finally:
        await engine.dispose()


async def _build_or_reuse(settings: Settings, size: DemoSize) -> tuple[DemoSummary, bool]:
    """(summary, built now?) of the demo in the database."""
    from souk.auth.passwords import hash_password
    from souk.demo import DEMO_PASSWORD, build_demo, demo_summary, find_demo, has_users

    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            if await find_demo(session):
                return await demo_summary(session), False
            if await has_users(session):
                raise DemoRefused
            password_hash = await asyncio.to_thread(hash_password, DEMO_PASSWORD)
            with _progress() as progress:
                reporter = RichReporter(progress)
                summary = await build_demo(
                    session, settings.uploads_dir, password_hash=password_hash, size=size, reporter=reporter
                )
                reporter.stage("Saving", 1)
                await session.commit()
                await refresh_statistics(engine)
                reporter.finish()
            return summary, True
    finally:
        await engine.dispose()


def _reset_demo(settings: Settings) -> None:
    url = settings.resolved_database_url
    current = _revision_or_exit(url)
    if current is not None:
        try:
            state = asyncio.run(_demo_state(url))
        except SQLAlchemyError:
            state = "other"
        if state == "other":
            raise _fail(
                f"--reset only rebuilds a demo database, and {safe_url(url)} holds other data. "
                "Point SOUK_DATA_DIR (or SOUK_DATABASE_URL) somewhere else to try the demo."
            )
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
    elif current is not None:
        from alembic import command

        from souk.migrate import alembic_config

        command.downgrade(alembic_config(url), "base")
    shutil.rmtree(settings.uploads_dir, ignore_errors=True)
    settings.ensure_dirs()
    console.print("Removed the previous demo marketplace.")


def _print_demo(summary: DemoSummary, built: bool, settings: Settings, host: str, port: int) -> None:
    from souk.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

    models = summary.stores_by_model
    stores = ", ".join(
        f"{models.get(key, 0)} {label}"
        for key, label in (
            ("sourcing", "sourcing"),
            ("market", "market"),
            ("mall", "mall"),
            ("crossborder", "global"),
        )
    )
    if built:
        console.print(
            f"[green]Demo marketplace built in {summary.seconds:.1f} s[/green] into {settings.data_dir.resolve()}."
        )
    else:
        console.print(
            f"Reusing the demo marketplace in {settings.data_dir.resolve()} (pass [bold]--reset[/bold] to build it again)."
        )
    console.print(
        f"{summary.stores} stores ({stores}; {summary.pending_stores} waiting for review), "
        f"{summary.products:,} products, {summary.skus:,} SKUs ({summary.skus_in_stock:,} in stock), "
        f"{summary.images:,} product images, "
        f"{summary.categories} categories, {summary.visible_products:,} products in search."
    )
    table = Table(title=f"Demo accounts (password for all: {DEMO_PASSWORD})", title_justify="left")
    table.add_column("Role", style="bold", no_wrap=True)
    table.add_column("Email", style="cyan", no_wrap=True)
    table.add_column("Store / what to try")
    for account in DEMO_ACCOUNTS:
        table.add_row(account.role, account.email, account.what)
    console.print(table)
    console.print(f"Open [bold]{_browse_url(host, port)}[/bold] and log in with one of these accounts.")


@app.command(
    epilog="Examples: [cyan]souk demo[/cyan], [cyan]souk demo --reset --port 8080[/cyan], "
    "[cyan]souk demo --no-serve[/cyan] (build only)",
)
def demo(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    reset: Annotated[
        bool, typer.Option("--reset", help="Throw the existing demo away and build it again.")
    ] = False,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Build (or check) the demo, then exit.")
    ] = False,
    size: Annotated[
        DemoSize,
        typer.Option(
            help="full: 44 stores and 2,000+ products; small: 6 stores and 60 products (for tests)."
        ),
    ] = DemoSize.full,
) -> None:
    """Build the demo marketplace (all four trade models, 2,000+ products) in the data dir and serve it."""
    started = time.perf_counter()
    settings = get_settings()
    settings.ensure_dirs()
    if reset:
        _reset_demo(settings)
    url = settings.resolved_database_url
    if _revision_or_exit(url) != head_revision():
        console.print(f"Migrating {safe_url(url)} ...")
        _upgrade_or_exit(url)
    try:
        summary, built = asyncio.run(_build_or_reuse(settings, size))
        summary.seconds = (
            time.perf_counter() - started
        )  # everything: reset, migrations, pictures, rows, index
    except DemoRefused:
        raise _fail(
            f"{safe_url(url)} already holds accounts that are not the demo's; the demo only builds into an "
            "empty database. Use another data dir: [bold]SOUK_DATA_DIR=./souk-demo souk demo[/bold]."
        ) from None
    _print_demo(summary, built, settings, host, port)
    if not no_serve:
        _run_server(host, port, 1)


# --- search -----------------------------------------------------------------------------------------


async def _reindex(url: str) -> int:
    from souk.models import Product
    from souk.search.indexing import reindex_all

    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            total = len((await session.scalars(select(Product.id))).all())
        with _progress() as progress:
            task = progress.add_task("Indexing products", total=max(total, 1))
            # one transaction: the documents in batches, then the full-text index rebuilt in one statement
            async with sessionmaker() as session, session.begin():
                count = await reindex_all(session, lambda n: progress.advance(task, n))
            progress.update(task, completed=max(total, 1))
        await refresh_statistics(engine)
        return count
    finally:
        await engine.dispose()


@search_app.command("reindex", epilog="Example: [cyan]souk search reindex[/cyan]")
def search_reindex() -> None:
    """Rebuild the search index of every product (after a restore or an upgrade)."""
    settings = get_settings()
    ensure_migrated(settings)
    started = time.perf_counter()
    count = asyncio.run(_reindex(settings.resolved_database_url))
    console.print(f"Indexed {count:,} products in {time.perf_counter() - started:.1f} s.")


# --- audit ------------------------------------------------------------------------------------------


async def _audit(url: str, names: list[str] | None) -> Any:
    from souk.audit import run_checks

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await run_checks(session, names)
    finally:
        await engine.dispose()


@app.command(
    epilog="Examples: [cyan]souk audit[/cyan], [cyan]souk audit --check ledger.entries_balance[/cyan]",
)
def audit(
    check: Annotated[
        list[str] | None,
        typer.Option("--check", help="Run only this check (repeatable); all of them by default."),
    ] = None,
) -> None:
    """Check the whole database: every ledger entry balances, no account that may not go negative is negative,
    cached balances match their postings, payouts and payments match their ledger entries ... Exits with 1 and
    lists every violation when one is found."""
    from souk.audit import load_checks

    settings = get_settings()
    ensure_migrated(settings)
    known = load_checks()
    unknown = [name for name in check or [] if name not in known]
    if unknown:
        raise _fail(f"no audit check named {escape(', '.join(unknown))}; the checks are: {', '.join(known)}")
    started = time.perf_counter()
    try:
        report = asyncio.run(_audit(settings.resolved_database_url, check or None))
    except SQLAlchemyError as exc:
        raise _fail(f"the audit could not read the database: {escape(str(exc))}") from exc
    seconds = time.perf_counter() - started
    failed = [result for result in report.results if not result.ok]
    for result in report.results:
        if result.ok:
            console.print(f"[green]✓[/green] {result.name}")
        else:
            console.print(f"[red]✗ {result.name}[/red]")
            for violation in result.violations:
                console.print(f"    • {escape(violation)}")
    if failed:
        count = sum(len(r.violations) for r in failed)
        errors.print(
            f"[red]Audit failed:[/red] {count} violation{'s' if count != 1 else ''} in "
            f"{len(failed)} of {len(report.results)} checks ({seconds:.1f} s)."
        )
        raise typer.Exit(1)
    console.print(f"[green]All {len(report.results)} checks passed[/green] ({seconds:.1f} s).")


# --- backup and restore -----------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        console.print(f"souk {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Souk: one marketplace engine for sourcing, market, mall and global (cross-border) trade."""


# the backup and restore commands register themselves on ``app``
from souk.cli import backup as _backup_commands  # noqa: E402, F401
