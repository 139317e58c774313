"""``souk backup`` and ``souk restore``: the commands around ``souk.backup`` (which holds the work)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress

from souk.cli import (
    _fail,
    _progress,
    _revision_or_exit,
    _sqlite_file,
    _upgrade_or_exit,
    app,
    console,
    safe_url,
)
from souk.config import Settings, get_settings
from souk.migrate import head_revision

UPLOADS_NOTE = (
    "Uploaded files (product images, logos, documents) and secret.key are not in the database: "
    "copy the data dir's uploads directory alongside."
)


def _page_progress(progress: Progress, description: str) -> Any:
    task = progress.add_task(description, total=None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=max(total, 1))

    return advance


def _uploads_hint(settings: Settings, restored: bool) -> None:
    uploads = settings.uploads_dir.resolve()
    if restored:
        console.print(
            f"Uploaded files are not in the database: put the uploads copied with the backup back into "
            f"[bold]{uploads}[/bold] (and secret.key, when SOUK_SECRET_KEY is unset)."
        )
    else:
        console.print(
            f"Uploaded files are not in the database: copy [bold]{uploads}[/bold] "
            "(and secret.key, when SOUK_SECRET_KEY is unset) alongside."
        )


@app.command(
    help="Back up the database into the file PATH (safe while Souk runs).\n\n"
    "SQLite: an online copy with SQLite's backup API. PostgreSQL: pg_dump --format=custom (pg_dump must be on "
    f"PATH). {UPLOADS_NOTE}",
    epilog="Examples: [cyan]souk backup /backup/souk-2026-01-31.db[/cyan], "
    "[cyan]souk backup /backup/souk.dump --force[/cyan]",
)
def backup(
    path: Annotated[Path, typer.Argument(help="The backup file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH when it exists.")] = False,
) -> None:
    from souk import backup as backups

    settings = get_settings()
    url = settings.resolved_database_url
    database = _sqlite_file(url)
    started = time.perf_counter()
    try:
        backups.check_target(path, force)
        if database is not None:
            with _progress() as progress:
                written = backups.backup_sqlite(
                    database, path, force=force, progress=_page_progress(progress, "Copying pages")
                )
        else:
            with console.status(f"pg_dump of {safe_url(url)} ..."):
                written = backups.backup_postgres(url, path, force=force)
    except (backups.BackupError, sqlite3.Error, OSError) as exc:
        raise _fail(escape(str(exc))) from exc
    console.print(
        f"Backed up {safe_url(url)} to [bold]{written.path.resolve()}[/bold] "
        f"({backups.human_size(written.size)}) in {time.perf_counter() - started:.1f} s."
    )
    _uploads_hint(settings, restored=False)


@app.command(
    help="Replace the database with the backup in PATH, then migrate it to the newest revision.\n\n"
    "Stop Souk (serve and worker) first. SQLite: the database file is replaced atomically. PostgreSQL: "
    f"pg_restore --clean --if-exists --no-owner (pg_restore must be on PATH). {UPLOADS_NOTE}",
    epilog="Example: [cyan]souk restore /backup/souk-2026-01-31.db --yes && souk search reindex[/cyan]",
)
def restore(
    path: Annotated[Path, typer.Argument(help="The backup file (from souk backup).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    from souk import backup as backups

    settings = get_settings()
    settings.ensure_dirs()
    url = settings.resolved_database_url
    database = _sqlite_file(url)
    try:
        if database is not None:
            revision = backups.sqlite_backup_revision(path)
            if not backups.sqlite_lock_free(database):
                raise backups.BackupError(
                    f"{database} is in use; stop Souk (serve and worker) and try again."
                )
        else:
            revision = backups.postgres_backup_revision(path)
    except (backups.BackupError, sqlite3.Error, OSError) as exc:
        raise _fail(escape(str(exc))) from exc
    if not yes and not typer.confirm(
        f"Replace everything in {safe_url(url)} with the backup {path} (revision {revision})?"
    ):
        raise _fail("nothing restored.")
    started = time.perf_counter()
    try:
        if database is not None:
            with _progress() as progress:
                backups.restore_sqlite(path, database, progress=_page_progress(progress, "Copying pages"))
        else:
            with console.status(f"pg_restore into {safe_url(url)} ..."):
                backups.restore_postgres(path, url)
    except (backups.BackupError, sqlite3.Error, OSError) as exc:
        raise _fail(escape(str(exc))) from exc
    if revision != head_revision():
        console.print(f"Migrating from revision {revision} to {head_revision()} ...")
        _upgrade_or_exit(url)
    counts = asyncio.run(backups.table_counts(url))
    console.print(
        f"[green]Restored[/green] {path} into {safe_url(url)} in {time.perf_counter() - started:.1f} s, "
        f"now at revision [bold]{_revision_or_exit(url)}[/bold]: "
        + ", ".join(f"{count:,} {table.replace('_', ' ')}" for table, count in counts.items())
        + "."
    )
    _uploads_hint(settings, restored=True)
    console.print("Then run [bold]souk search reindex[/bold] and start Souk.")
