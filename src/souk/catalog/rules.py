"""Pure checks on a product's desired state: option names, variants, price tiers. They collect every problem
into an ``ErrorBag`` so a form can show all of them at once; nothing here touches the database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from souk.catalog.errors import InvalidProduct
from souk.kit.text import fold


class ErrorBag:
    """{field: problem} gathered before anything is written; ``raise_if_any`` raises one 422 for them all."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.codes: list[str] = []

    def add(self, field: str, problem: str, code: str = "invalid_product") -> None:
        if field not in self.fields:
            self.fields[field] = problem
            self.codes.append(code)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self) -> None:
        if not self.fields:
            return
        code = self.codes[0] if len(set(self.codes)) == 1 else "invalid_product"
        summary = "; ".join(f"{field}: {problem}" for field, problem in self.fields.items())
        raise InvalidProduct(summary, code=code, fields=dict(self.fields))


@dataclass
class VariantDraft:
    """A variant as it will be after the write. ``prefix`` is where its problems are reported
    ("skus.2." for a row of the payload, "" for the variant being edited, None for an untouched one)."""

    prefix: str | None
    code: str
    option_values: dict[str, str]
    active: bool


def check_options(options: Sequence[str], bag: ErrorBag, field: str = "options") -> None:
    seen: set[str] = set()
    for name in options:
        key = fold(name)
        if key in seen:
            bag.add(field, f"'{name}' is listed twice")
        seen.add(key)


def _describe(values: dict[str, str], options: Sequence[str]) -> str:
    return ", ".join(f"{o}: {values[o]}" for o in options) or "no options"


def check_variants(options: Sequence[str], drafts: Sequence[VariantDraft], bag: ErrorBag) -> None:
    """Every active variant gives exactly one value per option name; no two active variants share a
    combination; codes are unique within the product (case-insensitively, active or not)."""

    def put(draft: VariantDraft, field: str, problem: str) -> None:
        if draft.prefix is None:
            bag.add("options", f"variant {draft.code} {problem}")
        else:
            bag.add(f"{draft.prefix}{field}", problem)

    combos: dict[tuple[str, ...], int] = {}
    codes: dict[str, int] = {}
    for n, draft in enumerate(drafts):
        code_key = draft.code.casefold()
        if code_key in codes:
            put(draft, "code", f"'{draft.code}' is already used by another variant of this product")
        else:
            codes[code_key] = n
        if not draft.active:
            continue
        missing = [o for o in options if not (draft.option_values.get(o) or "").strip()]
        unknown = [k for k in draft.option_values if k not in options]
        if missing:
            put(draft, "option_values", f"needs a value for {', '.join(missing)}")
            continue
        if unknown:
            put(draft, "option_values", f"'{', '.join(unknown)}' is not an option of this product")
            continue
        combo = tuple(fold(draft.option_values[o]) for o in options)
        if combo in combos:
            put(
                draft,
                "option_values",
                f"another variant already has these options ({_describe(draft.option_values, options)})",
            )
        else:
            combos[combo] = n


def check_tiers(
    tiers: Iterable[tuple[int, int]], moq: int | None, bag: ErrorBag, prefix: str = "price_tiers."
) -> None:
    """Quantities ascend, unit prices never rise with quantity, and the first tier starts at the MOQ or
    above."""
    previous: tuple[int, int] | None = None
    for i, (min_quantity, unit_price) in enumerate(tiers):
        if i == 0 and moq is not None and min_quantity < moq:
            bag.add(f"{prefix}{i}.min_quantity", f"must be at least the minimum order quantity ({moq})")
        if previous is not None:
            if min_quantity <= previous[0]:
                bag.add(f"{prefix}{i}.min_quantity", f"must be more than the tier before ({previous[0]})")
            if unit_price > previous[1]:
                bag.add(
                    f"{prefix}{i}.unit_price_amount",
                    "must not be higher than the tier before: larger orders cannot cost more per unit",
                )
        previous = (min_quantity, unit_price)


def new_codes(used: Iterable[str], count: int) -> list[str]:
    """``count`` codes SKU-1, SKU-2 ... that are not in ``used``."""
    taken = {c.casefold() for c in used}
    result: list[str] = []
    n = 1
    while len(result) < count:
        code = f"SKU-{n}"
        if code.casefold() not in taken:
            result.append(code)
            taken.add(code.casefold())
        n += 1
    return result
