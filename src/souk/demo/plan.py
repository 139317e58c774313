"""The demo's plan: which stores sell which products with which variants, prices, stock and pictures.

Plain data from a seeded ``random.Random``; nothing here touches the database, so the same plan comes out
of every run.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from babel import Locale

from souk.demo import images
from souk.demo.catalog import (
    COLOURS,
    CROSSBORDER_SUFFIXES,
    MODEL_NUMBERS,
    OPTIONS,
    SOURCING_PREFIXES,
    SOURCING_SUFFIXES,
    Department,
    Leaf,
    Noun,
    Option,
)
from souk.demo.departments import DEPARTMENT_BY_NAME
from souk.demo.parties import (
    CROSSBORDER_STORES,
    MALL_STORES,
    MARKET_STORES,
    PENDING_MALL_STORE,
    PENDING_ORG_STORE,
    SOURCING_STORES,
    USD_RATES,
    StoreSpec,
)
from souk.kit.money import minor_digits
from souk.kit.text import fold

SEED = 2026
BRAND_LINES = (
    "Aura",
    "Nova",
    "Pulse",
    "Zen",
    "Flow",
    "Edge",
    "Luxe",
    "Terra",
    "Halo",
    "Core",
    "Air",
    "Studio",
)
LEAD_TIMES = (7, 10, 12, 15, 20, 25, 30, 35, 45)


class DemoSize(StrEnum):
    full = "full"
    small = "small"


@dataclass(frozen=True)
class SizePlan:
    stores: tuple[StoreSpec, ...]
    products_per_store: dict[str, int]
    products_per_pending_store: int


PLANS: dict[DemoSize, SizePlan] = {
    DemoSize.full: SizePlan(
        stores=(
            *SOURCING_STORES,
            *MARKET_STORES,
            *MALL_STORES,
            *CROSSBORDER_STORES,
            PENDING_MALL_STORE,
            PENDING_ORG_STORE,
        ),
        products_per_store={"sourcing": 60, "market": 40, "mall": 55, "crossborder": 50},
        products_per_pending_store=10,
    ),
    DemoSize.small: SizePlan(
        stores=(
            SOURCING_STORES[0],
            MARKET_STORES[0],
            MALL_STORES[0],
            CROSSBORDER_STORES[0],
            PENDING_MALL_STORE,
            PENDING_ORG_STORE,
        ),
        products_per_store={"sourcing": 12, "market": 12, "mall": 12, "crossborder": 12},
        products_per_pending_store=6,
    ),
}


@dataclass
class SkuDraft:
    code: str
    option_values: dict[str, str]
    price_amount: int
    weight_grams: int
    on_hand: int


@dataclass
class ProductDraft:
    store: int  # index into the plan's stores
    leaf: Leaf
    title: str
    description: str
    attributes: list[dict[str, str]]
    options: list[str]
    status: str
    currency: str
    created_at: datetime
    skus: list[SkuDraft]
    images: list[str]  # image keys
    moq: int | None = None
    lead_time_days: int | None = None
    sample_price_amount: int | None = None
    tiers: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class ImageSpec:
    shape: str
    colour: tuple[int, int, int]
    name: str
    variant: int


def stable_hash(text: str) -> int:
    return zlib.crc32(text.encode())


_SMALL_WORDS = frozenset({"a", "and", "for", "in", "of", "or", "the", "to", "with"})


def _headline(text: str) -> str:
    """Listing-style capitals: "easy to clean" -> "Easy to Clean"; "USB-C" stays as it is."""
    words = text.split()
    return " ".join(
        w if (i and w in _SMALL_WORDS) or not w[:1].islower() else w[:1].upper() + w[1:]
        for i, w in enumerate(words)
    )


def _sentence(text: str) -> str:
    """First letter upper case, the rest as written: "CE certified" stays, "vegan" -> "Vegan"."""
    return text[:1].upper() + text[1:]


def country_name(code: str) -> str:
    return str(Locale("en").territories.get(code, code))


def retail_price(usd: float, currency: str) -> int:
    """A shop price in minor units, rounded the way shops in that currency do (12.99, ¥59.90, ¥1,980)."""
    digits = minor_digits(currency)
    unit = 10**digits
    major = usd * USD_RATES[currency]
    if digits == 0:
        if major >= 10_000:
            return max(1_000, round(major / 1_000) * 1_000 - 100)  # ₩25,900
        if major >= 1_000:
            return round(major / 100) * 100 - 20  # ¥1,980
        return max(10, round(major / 10) * 10)
    if major < 1:
        return max(1, round(major * unit))
    if currency in ("THB", "INR"):
        if major >= 1_000:
            return (round(major / 100) * 100 - 10) * unit  # ₹2,490
        return max(1, round(major / 10) * 10 - 1) * unit  # ฿589, ₹499
    if currency in ("CNY", "MYR", "HKD"):
        return int(major) * unit + (unit * 9) // 10 if major < 100 else round(major) * unit  # ¥59.90
    return int(major) * unit + unit - 1  # $12.99


def wholesale_price(usd: float, currency: str) -> int:
    """A factory price in minor units, to the cent."""
    unit = 10 ** minor_digits(currency)
    return max(1, round(usd * USD_RATES[currency] * unit))


def _moq_for(unit_usd: float, rng: random.Random) -> int:
    if unit_usd < 1:
        return rng.choice((1_000, 2_000, 5_000))
    if unit_usd < 5:
        return rng.choice((200, 300, 500))
    if unit_usd < 20:
        return rng.choice((50, 100, 200))
    if unit_usd < 60:
        return rng.choice((20, 30, 50))
    return rng.choice((5, 10, 20))


def _pick(rng: random.Random, option: Option, palette: Sequence[str]) -> list[tuple[str, int]]:
    """(value, index in the option's full list) for the values one product offers."""
    values = tuple(palette) if not option.values else option.values
    low, high = option.pick
    count = min(len(values), rng.randint(low, high))
    if option.contiguous:
        start = rng.randint(0, len(values) - count)
        chosen = list(range(start, start + count))
    else:
        chosen = sorted(rng.sample(range(len(values)), count))
    return [(values[i], i) for i in chosen]


class Planner:
    """Turns the word lists into products for each store, deterministically."""

    def __init__(self, plan: SizePlan, now: datetime) -> None:
        self.plan = plan
        self.now = now
        self.rng = random.Random(SEED)
        self.image_specs: dict[str, ImageSpec] = {}

    def products(self) -> list[ProductDraft]:
        drafts: list[ProductDraft] = []
        for index, spec in enumerate(self.plan.stores):
            count = (
                self.plan.products_per_pending_store
                if spec.status != "active"
                else self.plan.products_per_store[spec.trade_model]
            )
            drafts.extend(self._store_products(index, spec, count))
        return drafts

    def _image_key(self, department: Department, noun: Noun, variant: int) -> str:
        key = f"{department.name}/{noun.name}/{variant}"
        if key not in self.image_specs:
            palette = department.palette
            colour = palette[(stable_hash(noun.name) + variant * 3) % len(palette)]
            self.image_specs[key] = ImageSpec(department.shape, COLOURS[colour], noun.name, variant)
        return key

    def _title(self, spec: StoreSpec, department: Department, noun: Noun) -> str:
        rng = self.rng
        taken = set(noun.name.lower().split())
        adjective = rng.choice([a for a in department.adjectives if a.lower() not in taken])
        feature = rng.choice(department.features)
        if spec.trade_model == "sourcing":
            suffix = rng.choice(SOURCING_SUFFIXES)
            parts = [rng.choice(SOURCING_PREFIXES), adjective, noun.name, _headline(feature)]
            return " ".join(p for p in [*parts, suffix] if p)
        if spec.trade_model == "mall":
            line = rng.choice(BRAND_LINES)
            return f"{spec.brand_name} {line} {noun.name}" + (
                f" – {_sentence(feature)}" if rng.random() < 0.4 else ""
            )
        if spec.trade_model == "crossborder":
            suffix = rng.choice(CROSSBORDER_SUFFIXES)
            return f"{adjective} {noun.name}, {_sentence(feature)}" + (f" – {suffix}" if suffix else "")
        return f"{adjective} {noun.name}" + (f" – {_sentence(feature)}" if rng.random() < 0.5 else "")

    def _description(
        self, spec: StoreSpec, department: Department, noun: Noun, moq: int | None, lead: int | None
    ) -> tuple[str, str]:
        rng = self.rng
        material = rng.choice(department.materials)
        first, second = rng.sample(department.features, 2)
        uses = " ".join(rng.sample(department.uses, 2))
        where = f"{spec.city}, {country_name(spec.country)}"
        if spec.trade_model == "sourcing":
            terms = (
                f"Factory direct from {where}. OEM and ODM welcome: custom logo, colours and packaging "
                f"from {moq} pieces. Samples ship in 3-5 days; mass production takes about {lead} days "
                "after the deposit."
            )
        elif spec.trade_model == "mall":
            terms = (
                f"Official {spec.brand_name} store: 100% authentic, with the manufacturer's warranty and "
                "7-day returns."
            )
        elif spec.trade_model == "crossborder":
            terms = (
                f"Ships worldwide from {where} with tracking; delivery in 7-15 days to most countries. "
                "Import duties and VAT are shown at checkout."
            )
        else:
            terms = f"Ships from {spec.city} within 48 hours. Questions about sizes or colours? Message me, I answer every day."
        text = f"{noun.name} in {material}: {first} and {second}.\n\n{uses}\n\n{terms}"
        return text, material

    def _store_products(self, store_index: int, spec: StoreSpec, count: int) -> list[ProductDraft]:
        rng = self.rng
        departments = [DEPARTMENT_BY_NAME[name] for name in spec.departments]
        code = fold(images.initials(spec.name, 3)).upper() + f"{store_index + 1:02d}"
        titles: set[str] = set()
        drafts = []
        for n in range(count):
            department = departments[n % len(departments)]
            leaf = rng.choice(department.leaves)
            noun = rng.choice(leaf.nouns)
            title = self._title(spec, department, noun)
            while title in titles:
                title = f"{title} {rng.choice(MODEL_NUMBERS)}"
            titles.add(title)
            drafts.append(
                self._product(store_index, spec, department, leaf, noun, title, f"{code}-{n + 1:04d}")
            )
        return drafts

    def _product(
        self,
        store_index: int,
        spec: StoreSpec,
        department: Department,
        leaf: Leaf,
        noun: Noun,
        title: str,
        code: str,
    ) -> ProductDraft:
        rng = self.rng
        sourcing = spec.trade_model == "sourcing"
        usd = round(rng.uniform(noun.usd_low, noun.usd_high), 2)
        unit_usd = usd * rng.uniform(0.35, 0.55) if sourcing else usd
        options = [OPTIONS[key] for key in noun.options]
        picks = [_pick(rng, option, department.palette) for option in options]
        moq = _moq_for(unit_usd, rng) if sourcing else None
        lead = rng.choice(LEAD_TIMES) if sourcing else None
        base_amount = wholesale_price(unit_usd, spec.currency) if sourcing else 0

        skus: list[SkuDraft] = []
        combos = list(itertools.product(*picks)) if picks else [()]
        for k, combo in enumerate(combos[:30]):
            factor = 1.0
            for option, (_value, position) in zip(options, combo, strict=True):
                factor += option.step * position
            # sourcing SKUs share the product's price; its volume tiers apply to every variant
            price = base_amount if sourcing else retail_price(usd * factor, spec.currency)
            skus.append(
                SkuDraft(
                    code=f"{code}-{k + 1:02d}",
                    option_values={o.name: value for o, (value, _pos) in zip(options, combo, strict=True)},
                    price_amount=price,
                    weight_grams=max(1, round(noun.grams * (1 + (factor - 1) * 0.5))),
                    on_hand=self._stock(spec.trade_model),
                )
            )

        description, material = self._description(spec, department, noun, moq, lead)
        attributes = [
            {"name": "Material", "value": material[:1].upper() + material[1:]},
            {"name": "Origin", "value": country_name(spec.country)},
        ]
        for name in rng.sample(sorted(department.attributes), min(2, len(department.attributes))):
            attributes.append({"name": name, "value": rng.choice(department.attributes[name])})
        if spec.brand_name:
            attributes.insert(0, {"name": "Brand", "value": spec.brand_name})
        if sourcing:
            attributes.append(
                {
                    "name": "Customisation",
                    "value": rng.choice(("Logo, packaging", "Logo, colour, packaging", "Full OEM/ODM")),
                }
            )

        roll = rng.random()
        status = "draft" if roll < 0.03 else "archived" if roll < 0.04 else "active"
        age_days = rng.uniform(0, 12) if spec.status != "active" else rng.uniform(0, 220)
        first = rng.randint(0, 1)
        keys = [self._image_key(department, noun, first)]
        if rng.random() < 0.6:
            keys.append(self._image_key(department, noun, 1 - first))

        draft = ProductDraft(
            store=store_index,
            leaf=leaf,
            title=title,
            description=description,
            attributes=attributes,
            options=[o.name for o in options],
            status=status,
            currency=spec.currency,
            created_at=self.now - timedelta(days=age_days, minutes=rng.randint(0, 1439)),
            skus=skus,
            images=keys,
        )
        if sourcing:
            draft.moq = moq
            draft.lead_time_days = lead
            draft.tiers = self._tiers(base_amount, moq or 1)
            sample_usd = unit_usd * rng.choice((2, 3, 4)) + 8
            draft.sample_price_amount = wholesale_price(sample_usd, spec.currency)
        return draft

    def _tiers(self, base_amount: int, moq: int) -> list[tuple[int, int]]:
        rng = self.rng
        count = rng.randint(2, 4)
        tiers = [(moq, base_amount)]
        price = base_amount
        for multiple in (5, 10, 50)[: count - 1]:
            price = min(price - 1, round(price * (1 - rng.uniform(0.05, 0.11))))
            if price < 1:
                break
            tiers.append((moq * multiple, price))
        return tiers

    def _stock(self, trade_model: str) -> int:
        rng = self.rng
        if trade_model == "sourcing":
            return rng.randint(500, 20_000)
        if trade_model == "market":
            return rng.randint(1, 5) if rng.random() < 0.12 else rng.randint(6, 150)
        if trade_model == "mall":
            return rng.randint(20, 900)
        return rng.randint(10, 300)
