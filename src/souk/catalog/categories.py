"""The category tree: read by anyone, shaped by platform operators. No cycles; slugs are unique."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import require_operator
from souk.catalog.errors import CategoryNotFound
from souk.catalog.repository import CategoryNodeData, CategoryRepository
from souk.catalog.rules import ErrorBag
from souk.catalog.schemas import CategoryCreate, CategoryUpdate
from souk.kit.text import slugify
from souk.models import Category
from souk.search.indexing import index_products
from souk.search.service import reset_category_cache


@dataclass
class CategoryDetailData:
    category: Category
    path: list[Category]
    children: list[Category]


def _nodes(categories: list[Category]) -> tuple[list[CategoryNodeData], dict[int, CategoryNodeData]]:
    nodes = {c.id: CategoryNodeData(c.id, c.name, c.slug, c.parent_id, c.position) for c in categories}
    roots: list[CategoryNodeData] = []
    for c in categories:  # already in (position, name) order, so children come out ordered too
        node = nodes[c.id]
        parent = nodes.get(c.parent_id) if c.parent_id is not None else None
        (parent.children if parent else roots).append(node)
    return roots, nodes


def _descendants(categories: list[Category], root_id: int) -> list[int]:
    children: dict[int | None, list[int]] = {}
    for c in categories:
        children.setdefault(c.parent_id, []).append(c.id)
    result, stack = [], [root_id]
    while stack:
        current = stack.pop()
        if current in result:
            continue
        result.append(current)
        stack.extend(children.get(current, []))
    return result


class CategoryService:
    async def tree(self, session: AsyncSession) -> list[CategoryNodeData]:
        """The whole tree: top-level categories with their children, nested, in display order."""
        roots, _ = _nodes(await CategoryRepository(session).all())
        return roots

    async def flat(self, session: AsyncSession) -> list[CategoryNodeData]:
        """Every category depth-first with its ``depth``: what an indented select shows."""
        roots, _ = _nodes(await CategoryRepository(session).all())
        result: list[CategoryNodeData] = []

        def walk(nodes: list[CategoryNodeData], depth: int) -> None:
            for node in nodes:
                node.depth = depth
                result.append(node)
                walk(node.children, depth + 1)

        walk(roots, 0)
        return result

    async def get(self, session: AsyncSession, category_id: int) -> CategoryDetailData:
        """A category with its ancestors (top level first) and its children."""
        categories = await CategoryRepository(session).all()
        by_id = {c.id: c for c in categories}
        category = by_id.get(category_id)
        if category is None:
            raise CategoryNotFound()
        path: list[Category] = []
        current = category.parent_id
        while current is not None and current in by_id and by_id[current] not in path:
            path.append(by_id[current])
            current = by_id[current].parent_id
        path.reverse()
        children = [c for c in categories if c.parent_id == category.id]
        return CategoryDetailData(category, path, children)

    async def _free_slug(self, repo: CategoryRepository, name: str) -> str:
        base = slugify(name, max_length=90)
        slug, n = base, 1
        while await repo.slug_taken(slug):
            n += 1
            slug = f"{base}-{n}"
        return slug

    async def create(self, session: AsyncSession, actor: Actor, payload: CategoryCreate) -> Category:
        require_operator(actor)
        repo = CategoryRepository(session)
        bag = ErrorBag()
        if payload.parent_id is not None and not await repo.exists(payload.parent_id):
            bag.add("parent_id", "unknown category", code="unknown_category")
        if payload.slug is not None and await repo.slug_taken(payload.slug):
            bag.add("slug", "is already used by another category", code="slug_taken")
        bag.raise_if_any()
        category = Category(
            name=payload.name,
            slug=payload.slug or await self._free_slug(repo, payload.name),
            parent_id=payload.parent_id,
            position=payload.position,
        )
        session.add(category)
        await session.flush()
        reset_category_cache()
        return category

    async def update(
        self, session: AsyncSession, actor: Actor, category_id: int, payload: CategoryUpdate
    ) -> Category:
        """Rename, re-slug, reorder or move a category; products below it are re-indexed (their category
        names and paths are part of the search documents)."""
        require_operator(actor)
        repo = CategoryRepository(session)
        categories = await repo.all()
        by_id = {c.id: c for c in categories}
        category = by_id.get(category_id)
        if category is None:
            raise CategoryNotFound()
        sent = payload.model_fields_set
        bag = ErrorBag()
        for field in ("name", "slug", "position"):
            if field in sent and getattr(payload, field) is None:
                bag.add(field, "must not be empty")
        if payload.slug is not None and await repo.slug_taken(payload.slug, except_id=category.id):
            bag.add("slug", "is already used by another category", code="slug_taken")
        moving = "parent_id" in sent and payload.parent_id != category.parent_id
        if moving and payload.parent_id is not None:
            if payload.parent_id not in by_id:
                bag.add("parent_id", "unknown category", code="unknown_category")
            elif payload.parent_id in _descendants(categories, category.id):
                bag.add(
                    "parent_id",
                    "cannot move a category under itself or one of its subcategories",
                    code="category_cycle",
                )
        bag.raise_if_any()
        renamed = payload.name is not None and payload.name != category.name
        if payload.name is not None:
            category.name = payload.name
        if payload.slug is not None:
            category.slug = payload.slug
        if payload.position is not None:
            category.position = payload.position
        if moving:
            category.parent_id = payload.parent_id
        await session.flush()
        reset_category_cache()
        if renamed or moving:
            ids = _descendants(categories, category.id)
            await index_products(session, await repo.product_ids_in(ids))
        return category


category_service = CategoryService()
