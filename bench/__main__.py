"""``python -m bench SCENARIO [--db sqlite|postgres] [--duration S] [--concurrency N] [--runs R] ...``

Runs a load scenario (``bench/scenarios/``); ``python -m bench SCENARIO --help`` lists its options and
``python -m bench`` the scenarios. The older single-purpose scripts run on their own:
``python -m bench.demo_build`` and ``python -m bench.search_latency``.
"""

from __future__ import annotations

import importlib
import signal
import sys

from bench.scenarios import SCENARIOS


def _usage() -> str:
    lines = [
        "usage: python -m bench SCENARIO [options]   (python -m bench SCENARIO --help)",
        "",
        "scenarios:",
    ]
    for name, module in SCENARIOS.items():
        summary = getattr(importlib.import_module(module), "SUMMARY", "")
        lines.append(f"  {name:<12} {summary}")
    lines += ["", "other scripts: python -m bench.demo_build, python -m bench.search_latency"]
    return "\n".join(lines)


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    # an exception, so that the scenario's ``finally`` blocks stop the servers it started
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if not argv or argv[0] in ("-h", "--help", "list"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SCENARIOS:
        print(f"unknown scenario {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SCENARIOS[name])
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
