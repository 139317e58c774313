"""The README and the operator's guide stay in step with the code they describe."""

from __future__ import annotations

import re

import typer

from souk.cli import app
from souk.config import Settings
from souk.migrate import ROOT

README = (ROOT / "README.md").read_text()
OPERATOR_GUIDE = (ROOT / "docs" / "operator.md").read_text()


def test_quick_start_opens_with_the_two_commands() -> None:
    section = README.split("## Quick start", 1)[1]
    first_block = section.split("```", 2)[1]
    assert first_block.strip().splitlines() == [
        "pip install -e . && souk demo",
        "pip install -e '.[test]' && python -m pytest",
    ]
    assert section.index("```") < section.index("\n\n", section.index("```"))  # nothing before the commands


def test_readme_documents_every_setting_with_its_default() -> None:
    documented = set(re.findall(r"^\| `(SOUK_[A-Z_]+)` \|", README, re.MULTILINE))
    assert documented == {f"SOUK_{name.upper()}" for name in Settings.model_fields}
    for name in ("session_days", "db_pool_size", "max_upload_bytes", "login_failure_window_seconds"):
        row = next(line for line in README.splitlines() if line.startswith(f"| `SOUK_{name.upper()}`"))
        assert f"`{Settings.model_fields[name].default}`" in row, row


def test_docs_name_every_command() -> None:
    group = typer.main.get_group(app)
    assert set(group.commands) == {
        "serve",
        "migrate",
        "demo",
        "admin",
        "search",
        "worker",
        "audit",
        "backup",
        "restore",
    }
    for command in (
        "souk serve",
        "souk migrate",
        "souk admin create",
        "souk demo",
        "souk search reindex",
        "souk worker",
        "souk audit",
        "souk backup",
        "souk restore",
    ):
        assert command in README, command
    for command in (
        "souk migrate",
        "souk admin create",
        "souk serve",
        "souk search reindex",
        "souk worker",
        "souk backup",
        "souk restore",
    ):
        assert command in OPERATOR_GUIDE, command
    assert "![The Souk home page](docs/screenshots/home.png)" in README
    assert "postgresql+asyncpg://user@host/db" in README
