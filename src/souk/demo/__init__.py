"""The demo marketplace that ``souk demo`` builds: every trade model, thousands of products, one password."""

from souk.demo.builder import (
    DemoSummary,
    Reporter,
    build_demo,
    demo_summary,
    find_demo,
    has_users,
)
from souk.demo.parties import DEMO_ACCOUNTS, DEMO_PASSWORD, OPERATOR, DemoAccount
from souk.demo.plan import DemoSize

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_PASSWORD",
    "OPERATOR",
    "DemoAccount",
    "DemoSize",
    "DemoSummary",
    "Reporter",
    "build_demo",
    "demo_summary",
    "find_demo",
    "has_users",
]
