"""Whole-database invariant checks, run by ``souk audit`` and by the tests after every money test.

A check is an async function of a session returning readable violations (an empty list when all is well),
registered under a dotted name::

    from souk.audit import check

    @check("ledger.entries_balance")
    async def entries_balance(session: AsyncSession) -> list[str]:
        ...
        return [f"entry #{entry_id} sums to {total} {currency}"]

Checks live in an ``audit`` module of their domain package (``souk/ledger/audit.py``, ``souk/order/audit.py``
...); ``load_checks`` imports every such module, so a new one is found without registering it anywhere else.
Checks only read. Each reports at most ``MAX_REPORTED`` violations and then how many more there are.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

import souk

AuditCheck = Callable[[AsyncSession], Awaitable[list[str]]]
CHECKS: dict[str, AuditCheck] = {}
MAX_REPORTED = 50


def check(name: str) -> Callable[[AuditCheck], AuditCheck]:
    """Register an audit check under ``name`` ("<domain>.<what is checked>")."""

    def register(fn: AuditCheck) -> AuditCheck:
        if name in CHECKS and CHECKS[name] is not fn:
            raise RuntimeError(f"two audit checks named {name!r}")
        CHECKS[name] = fn
        return fn

    return register


def load_checks() -> list[str]:
    """Import ``souk.<package>.audit`` of every package that has one; returns the registered names."""
    for root in souk.__path__:
        for module in pkgutil.iter_modules([root]):
            if module.ispkg and (Path(root) / module.name / "audit.py").is_file():
                importlib.import_module(f"souk.{module.name}.audit")
    return sorted(CHECKS)


def capped(violations: Iterable[str], total: int | None = None) -> list[str]:
    """At most ``MAX_REPORTED`` violations, then one line saying how many more there are."""
    items = list(violations)
    count = len(items) if total is None else total
    shown = items[:MAX_REPORTED]
    if count > len(shown):
        shown.append(f"... and {count - len(shown)} more")
    return shown


@dataclass
class CheckResult:
    name: str
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass
class AuditReport:
    results: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def violations(self) -> list[str]:
        """Every violation as "<check>: <message>"."""
        return [f"{r.name}: {v}" for r in self.results for v in r.violations]


async def run_checks(session: AsyncSession, names: Iterable[str] | None = None) -> AuditReport:
    """Run the registered checks (all of them, or those named) in name order."""
    load_checks()
    wanted = sorted(CHECKS) if names is None else list(names)
    unknown = [n for n in wanted if n not in CHECKS]
    if unknown:
        raise KeyError(f"no audit check named {', '.join(unknown)}")
    results = []
    for name in wanted:
        results.append(CheckResult(name, await CHECKS[name](session)))
    return AuditReport(results)
