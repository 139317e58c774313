"""Load scenarios of ``python -m bench SCENARIO``: each module has ``NAME``, ``SUMMARY`` and ``main(argv)``.

To add one: write ``bench/scenarios/<name>.py`` with those three (build its parser with
``bench.harness.base_parser`` so it takes the common options) and list it in ``SCENARIOS``.
"""

from __future__ import annotations

# scenario name -> module under bench.scenarios
SCENARIOS: dict[str, str] = {
    "checkout": "bench.scenarios.checkout",
    "browse": "bench.scenarios.browse",
    "flash-sale": "bench.scenarios.flash_sale",
    "search": "bench.scenarios.search",
    "tail": "bench.scenarios.tail",
}
