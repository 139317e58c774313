"""Builds the demo marketplace: people, organisations, stores of the four trade models, a category tree,
products with variants, prices in several currencies, stock, images, and the search index.

Everything comes from a seeded ``random.Random``, so every build holds the same data. Rows are written
with bulk inserts (``session.execute(insert(Model), rows)``) and the search index is built with
``souk.search.indexing.index_products`` in batches; the caller commits. The build is meant for an empty
database (``souk demo`` checks that).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.demo import images
from souk.demo.catalog import COLOURS
from souk.demo.departments import DEPARTMENTS
from souk.demo.parties import (
    BUYER_NAMES,
    DEMO_ACCOUNTS,
    DEMO_DOMAIN,
    OPERATOR,
    OrgSpec,
)
from souk.demo.plan import (
    PLANS,
    DemoSize,
    ImageSpec,
    Planner,
    ProductDraft,
    SizePlan,
    country_name,
    retail_price,
    stable_hash,
)
from souk.kit.clock import utcnow
from souk.kit.text import slugify
from souk.models import (
    Category,
    Membership,
    OpsDecision,
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
from souk.search.indexing import index_products

INDEX_BATCH = 500


class Reporter(Protocol):
    """Where the build reports its progress (``souk demo`` shows it as a Rich progress bar)."""

    def stage(self, description: str, total: int) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class SilentReporter:
    def stage(self, description: str, total: int) -> None:
        return None

    def advance(self, amount: int = 1) -> None:
        return None


@dataclass
class DemoSummary:
    stores_by_model: dict[str, int]
    pending_stores: int
    organizations: int
    pending_organizations: int
    users: int
    categories: int
    products: int
    skus: int
    skus_in_stock: int
    images: int
    visible_products: int
    seconds: float = 0.0

    @property
    def stores(self) -> int:
        return sum(self.stores_by_model.values())


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    country: str
    is_operator: bool = False


def _people(plan: SizePlan) -> list[Person]:
    """The demo accounts first, then every other store owner and a few buyers."""
    people = [Person(a.email, a.name, a.country, a is OPERATOR) for a in DEMO_ACCOUNTS]
    taken = {p.email for p in people}
    names_taken = {a.name for a in DEMO_ACCOUNTS}
    owners: list[tuple[str, str]] = []
    for spec in plan.stores:
        owner = spec.org.owner_name if spec.org else spec.owner_name
        if owner and owner not in names_taken:
            owners.append((owner, spec.country))
            names_taken.add(owner)
    for name, country in [*owners, *BUYER_NAMES]:
        email = f"{slugify(name, 40).replace('-', '.')}@{DEMO_DOMAIN}"
        n = 2
        while email in taken:
            email = f"{slugify(name, 40).replace('-', '.')}{n}@{DEMO_DOMAIN}"
            n += 1
        taken.add(email)
        people.append(Person(email, name, country))
    return people


def _registration_number(country: str, n: int) -> str:
    if country == "CN":
        return f"91440300MA5F{n:06d}"
    if country == "IN":
        return f"U74999GJ2019PTC{n:06d}"
    if country == "VN":
        return f"0312{n:06d}"
    return f"{country}-{n:08d}"


async def _insert_ids(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    result = await session.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    return [row[0] for row in result]


async def _insert(session: AsyncSession, model: Any, rows: list[dict[str, Any]], chunk: int = 5_000) -> None:
    for start in range(0, len(rows), chunk):
        await session.execute(insert(model), rows[start : start + chunk])


def _render(item: tuple[Path, str, ImageSpec]) -> images.StoredImage:
    public_root, key, spec = item
    picture = images.product_picture(spec.shape, spec.colour, spec.name, spec.variant)
    return images.write_image(public_root, "products", key, picture)


async def build_demo(
    session: AsyncSession,
    uploads_dir: Path,
    *,
    password_hash: str,
    size: DemoSize = DemoSize.full,
    reporter: Reporter | None = None,
) -> DemoSummary:
    """Write the demo marketplace into ``session`` (an empty database); the caller commits."""
    started = time.perf_counter()
    report = reporter or SilentReporter()
    plan = PLANS[size]
    now = utcnow()
    planner = Planner(plan, now)
    drafts = planner.products()
    public_root = uploads_dir / "public"
    private_root = uploads_dir / "private"

    # pictures first: plain files, written the way MediaStorage lays them out
    keys = sorted(planner.image_specs)
    report.stage("Drawing product images", len(keys))
    stored: dict[str, images.StoredImage] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        work = [(public_root, f"demo:{key}", planner.image_specs[key]) for key in keys]
        for key, image in zip(keys, pool.map(_render, work), strict=True):
            stored[key] = image
            report.advance()

    report.stage("Writing people, organisations and stores", len(plan.stores))
    people = _people(plan)
    user_ids = await _insert_ids(
        session,
        User,
        [
            {
                "email": p.email,
                "password_hash": password_hash,
                "display_name": p.name,
                "country": p.country,
                "phone": None,
                "is_operator": p.is_operator,
                "is_active": True,
                "created_at": now - timedelta(days=500 - i),
                "updated_at": now - timedelta(days=500 - i),
            }
            for i, p in enumerate(people)
        ],
    )
    user_by_name = {p.name: uid for p, uid in zip(people, user_ids, strict=True)}
    operator_id = user_by_name[OPERATOR.name]

    category_ids = await _write_categories(session)
    org_ids = await _write_organizations(session, plan, user_by_name, operator_id, now)
    store_ids = await _write_stores(session, plan, user_by_name, org_ids, operator_id, now, public_root)
    await _write_shipping_methods(session, plan, store_ids)
    await _write_documents(session, plan, user_by_name, org_ids, store_ids, now, private_root)
    report.advance(len(plan.stores))

    report.stage("Writing products, variants and stock", len(drafts))
    product_ids = await _write_products(
        session, plan, drafts, store_ids, category_ids, user_by_name, stored, report
    )

    report.stage("Building the search index", len(product_ids))
    for start in range(0, len(product_ids), INDEX_BATCH):
        batch = product_ids[start : start + INDEX_BATCH]
        await index_products(session, batch)
        report.advance(len(batch))

    # buying activity through the real services: orders in every state, reviews, refunds, a dispute
    # imported here: the activity pulls in every service, which `souk --help` and the other commands never need
    from souk.demo.activity import build_activity

    await build_activity(session, reporter=report)

    summary = await demo_summary(session)
    summary.seconds = time.perf_counter() - started
    return summary


async def _write_categories(session: AsyncSession) -> dict[str, int]:
    """The category tree; returns {leaf name: id} (leaf names are unique)."""
    top_ids = await _insert_ids(
        session,
        Category,
        [
            {"parent_id": None, "name": d.name, "slug": slugify(d.name, 90), "position": i}
            for i, d in enumerate(DEPARTMENTS)
        ],
    )
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    for department, parent_id in zip(DEPARTMENTS, top_ids, strict=True):
        for i, leaf in enumerate(department.leaves):
            slug = slugify(f"{department.name} {leaf.name}", 90)
            rows.append({"parent_id": parent_id, "name": leaf.name, "slug": slug, "position": i})
            names.append(leaf.name)
    leaf_ids = await _insert_ids(session, Category, rows)
    return dict(zip(names, leaf_ids, strict=True))


def _org_specs(plan: SizePlan) -> list[OrgSpec]:
    seen: list[OrgSpec] = []
    for spec in plan.stores:
        if spec.org and spec.org not in seen:
            seen.append(spec.org)
    return seen


async def _write_organizations(
    session: AsyncSession, plan: SizePlan, user_by_name: dict[str, int], operator_id: int, now: datetime
) -> dict[str, int]:
    orgs = _org_specs(plan)
    rows = []
    for n, org in enumerate(orgs, start=1):
        approved = org.status == "approved"
        created = now - timedelta(days=420 - n * 2)
        rows.append(
            {
                "legal_name": org.legal_name,
                "registration_number": _registration_number(org.country, 100_000 + n * 7919),
                "country": org.country,
                "address": org.address,
                "status": org.status,
                "review_reason": "Registration documents checked." if approved else None,
                "reviewed_at": created + timedelta(days=2) if approved else None,
                "reviewed_by_id": operator_id if approved else None,
                "created_by_id": user_by_name[org.owner_name],
                "created_at": created if approved else now - timedelta(days=1),
                "updated_at": created + timedelta(days=2) if approved else now - timedelta(days=1),
            }
        )
    ids = await _insert_ids(session, Organization, rows)
    await _insert(
        session,
        Membership,
        [
            {
                "organization_id": oid,
                "user_id": user_by_name[org.owner_name],
                "role": "owner",
                "created_at": row["created_at"],
            }
            for org, oid, row in zip(orgs, ids, rows, strict=True)
        ],
    )
    decisions = [
        {
            "operator_id": operator_id,
            "subject_type": "organization",
            "subject_id": oid,
            "decision": "approve",
            "reason": "Registration documents checked.",
            "created_at": row["reviewed_at"],
        }
        for oid, row in zip(ids, rows, strict=True)
        if row["status"] == "approved"
    ]
    await _insert(session, OpsDecision, decisions)
    return {org.legal_name: oid for org, oid in zip(orgs, ids, strict=True)}


async def _write_shipping_methods(session: AsyncSession, plan: SizePlan, store_ids: list[int]) -> None:
    """Every store ships two ways: surface mail (free over a threshold) and express."""
    rows = []
    for spec, store_id in zip(plan.stores, store_ids, strict=True):
        surface, express, free_over = (
            (
                retail_price(4.0, spec.currency),
                retail_price(12.0, spec.currency),
                retail_price(49.0, spec.currency),
            )
            if spec.trade_model != "sourcing"
            else (retail_price(60.0, spec.currency), retail_price(180.0, spec.currency), None)
        )
        slow = "Sea freight" if spec.trade_model == "sourcing" else "Standard post"
        rows.append(
            {
                "store_id": store_id,
                "name": slow,
                "kind": "surface",
                "price_amount": surface,
                "currency": spec.currency,
                "free_over_amount": free_over,
                "active": True,
                "position": 0,
            }
        )
        rows.append(
            {
                "store_id": store_id,
                "name": "Express courier",
                "kind": "express",
                "price_amount": express,
                "currency": spec.currency,
                "free_over_amount": None,
                "active": True,
                "position": 1,
            }
        )
    await _insert(session, ShippingMethod, rows)


async def _write_stores(
    session: AsyncSession,
    plan: SizePlan,
    user_by_name: dict[str, int],
    org_ids: dict[str, int],
    operator_id: int,
    now: datetime,
    public_root: Path,
) -> list[int]:
    rows = []
    for n, spec in enumerate(plan.stores):
        colour = list(COLOURS.values())[stable_hash(spec.name) % len(COLOURS)]
        logo = images.write_image(
            public_root, "stores", f"demo-logo:{spec.name}", images.logo_picture(spec.name, colour)
        )
        business = spec.org is not None
        reviewed = business and spec.status == "active"
        created = now - timedelta(days=370 - n * 2) if spec.status == "active" else now - timedelta(hours=20)
        rows.append(
            {
                "slug": slugify(spec.name, 80),
                "name": spec.name,
                "description": spec.blurb,
                "logo_path": logo.path,
                "country": spec.country,
                "currency": spec.currency,
                "trade_model": spec.trade_model,
                "status": spec.status,
                "review_reason": "Business and brand documents checked." if reviewed else None,
                "reviewed_at": created + timedelta(days=1) if reviewed else None,
                "reviewed_by_id": operator_id if reviewed else None,
                "owner_user_id": None if business else user_by_name[spec.owner_name or ""],
                "organization_id": org_ids[spec.org.legal_name] if spec.org else None,
                "brand_name": spec.brand_name,
                "created_at": created,
                "updated_at": created,
            }
        )
    ids = await _insert_ids(session, Store, rows)
    await _insert(
        session,
        OpsDecision,
        [
            {
                "operator_id": operator_id,
                "subject_type": "store",
                "subject_id": sid,
                "decision": "approve",
                "reason": "Business and brand documents checked.",
                "created_at": row["reviewed_at"],
            }
            for sid, row in zip(ids, rows, strict=True)
            if row["reviewed_at"] is not None
        ],
    )
    return ids


async def _write_documents(
    session: AsyncSession,
    plan: SizePlan,
    user_by_name: dict[str, int],
    org_ids: dict[str, int],
    store_ids: list[int],
    now: datetime,
    private_root: Path,
) -> None:
    rows: list[tuple[OrgSpec, int | None, str, images.StoredDocument]] = []
    for org in _org_specs(plan):
        doc = images.write_document(
            private_root,
            f"registration:{org.legal_name}",
            "Business Licence",
            [
                f"Company: {org.legal_name}",
                f"Country: {country_name(org.country)}",
                f"Address: {org.address}",
                f"Legal representative: {org.owner_name}",
                "Scope: manufacturing, wholesale and export trade",
                "This is demo data generated by Souk.",
            ],
        )
        rows.append((org, None, "registration", doc))
    for spec, store_id in zip(plan.stores, store_ids, strict=True):
        if spec.trade_model == "mall" and spec.org and spec.brand_name:
            doc = images.write_document(
                private_root,
                f"brand:{spec.name}",
                "Brand Authorisation",
                [
                    f"Brand: {spec.brand_name}",
                    f"Brand owner: {spec.org.legal_name}",
                    f"Authorised store: {spec.name}",
                    "Scope: sale of genuine branded goods online",
                    "Valid: 3 years from the date of signature",
                    "This is demo data generated by Souk.",
                ],
            )
            rows.append((spec.org, store_id, "brand_authorization", doc))
    await _insert(
        session,
        OrganizationDocument,
        [
            {
                "organization_id": org_ids[org.legal_name],
                "kind": kind,
                "store_id": store_id,
                "filename": doc.filename,
                "path": doc.path,
                "content_type": doc.content_type,
                "size_bytes": doc.size_bytes,
                "uploaded_by_id": user_by_name[org.owner_name],
                "created_at": now - timedelta(days=1),
            }
            for org, store_id, kind, doc in rows
        ],
    )


async def _write_products(
    session: AsyncSession,
    plan: SizePlan,
    drafts: list[ProductDraft],
    store_ids: list[int],
    category_ids: dict[str, int],
    user_by_name: dict[str, int],
    stored: dict[str, images.StoredImage],
    report: Reporter,
) -> list[int]:
    owners = [
        user_by_name[spec.org.owner_name if spec.org else spec.owner_name or ""] for spec in plan.stores
    ]
    product_rows = []
    for d in drafts:
        prices = [s.price_amount for s in d.skus]
        product_rows.append(
            {
                "store_id": store_ids[d.store],
                "category_id": category_ids[d.leaf.name],
                "title": d.title,
                "slug": slugify(d.title, 100),
                "description": d.description,
                "attributes": d.attributes,
                "options": d.options,
                "status": d.status,
                "currency": d.currency,
                "min_price_amount": min(prices),
                "max_price_amount": max(prices),
                "moq": d.moq,
                "lead_time_days": d.lead_time_days,
                "sample_price_amount": d.sample_price_amount,
                "created_at": d.created_at,
                "updated_at": d.created_at,
            }
        )
    product_ids = await _insert_ids(session, Product, product_rows)
    report.advance(len(drafts) // 2)

    sku_rows: list[dict[str, Any]] = []
    tier_rows: list[dict[str, Any]] = []
    image_rows: list[dict[str, Any]] = []
    for d, pid in zip(drafts, product_ids, strict=True):
        for position, s in enumerate(d.skus):
            sku_rows.append(
                {
                    "product_id": pid,
                    "code": s.code,
                    "option_values": s.option_values,
                    "price_amount": s.price_amount,
                    "currency": d.currency,
                    "weight_grams": s.weight_grams,
                    "position": position,
                    "is_active": True,
                }
            )
        tier_rows.extend(
            {"product_id": pid, "min_quantity": q, "unit_price_amount": price} for q, price in d.tiers
        )
        for position, key in enumerate(d.images):
            image = stored[key]
            image_rows.append(
                {
                    "product_id": pid,
                    "position": position,
                    "path": image.path,
                    "thumb_path": image.thumb_path,
                    "width": image.width,
                    "height": image.height,
                    "content_type": image.content_type,
                    "size_bytes": image.size_bytes,
                    "alt": d.title[:200],
                    "created_at": d.created_at,
                }
            )
    sku_ids = await _insert_ids(session, Sku, sku_rows)
    all_skus = [(s, d) for d in drafts for s in d.skus]
    await _insert(
        session,
        Stock,
        [
            {"sku_id": sid, "on_hand": s.on_hand, "reserved": 0}
            for sid, (s, _d) in zip(sku_ids, all_skus, strict=True)
        ],
    )
    await _insert(
        session,
        StockMovement,
        [
            {
                "sku_id": sid,
                "kind": "initial",
                "delta": s.on_hand,
                "on_hand_after": s.on_hand,
                "reason": "Opening stock",
                "actor_id": owners[d.store],
                "created_at": d.created_at,
            }
            for sid, (s, d) in zip(sku_ids, all_skus, strict=True)
        ],
    )
    await _insert(session, PriceTier, tier_rows)
    await _insert(session, ProductImage, image_rows)
    report.advance(len(drafts) - len(drafts) // 2)
    return product_ids


# --- reading ---------------------------------------------------------------------------------------


async def find_demo(session: AsyncSession) -> bool:
    """Whether this database holds the demo (its operator account exists)."""
    found = await session.scalar(select(User.id).where(User.email == OPERATOR.email))
    return found is not None


async def has_users(session: AsyncSession) -> bool:
    return (await session.scalar(select(User.id).limit(1))) is not None


async def demo_summary(session: AsyncSession) -> DemoSummary:
    by_model: dict[str, int] = {}
    pending = 0
    for model, status, stores in (
        await session.execute(
            select(Store.trade_model, Store.status, func.count()).group_by(Store.trade_model, Store.status)
        )
    ).all():
        by_model[model] = by_model.get(model, 0) + stores
        if status == "pending_review":
            pending += stores

    async def count(stmt: Any) -> int:
        return int(await session.scalar(stmt) or 0)

    return DemoSummary(
        stores_by_model=by_model,
        pending_stores=pending,
        organizations=await count(select(func.count()).select_from(Organization)),
        pending_organizations=await count(
            select(func.count()).select_from(Organization).where(Organization.status == "pending_review")
        ),
        users=await count(select(func.count()).select_from(User)),
        categories=await count(select(func.count()).select_from(Category)),
        products=await count(select(func.count()).select_from(Product)),
        skus=await count(select(func.count()).select_from(Sku)),
        skus_in_stock=await count(select(func.count()).select_from(Stock).where(Stock.on_hand > 0)),
        images=await count(select(func.count()).select_from(ProductImage)),
        visible_products=await count(
            select(func.count()).select_from(SearchDocument).where(SearchDocument.visible.is_(True))
        ),
    )
