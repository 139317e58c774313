"""Helpers shared by the catalog tests (imported as `catalog_support`: tests/catalog is on sys.path)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import PriceTier, Product, ProductImage, SearchDocument, Sku, Stock, StockMovement


def png_bytes(
    size: tuple[int, int] = (640, 480), colour: tuple[int, int, int, int] = (200, 80, 20, 255)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(size: tuple[int, int] = (800, 600), colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def two_colours(category_id: int, **extra: Any) -> dict[str, Any]:
    """A product payload with two variants (Red 12.50 x5, Blue 15.00 x3)."""
    return {
        "title": "Stoneware mug",
        "description": "Handmade, dishwasher safe",
        "category_id": category_id,
        "attributes": [{"name": "Material", "value": "Stoneware"}],
        "options": ["Colour"],
        "skus": [
            {"code": "MUG-RED", "option_values": {"Colour": "Red"}, "price_amount": 1250, "stock": 5},
            {"code": "MUG-BLUE", "option_values": {"Colour": "Blue"}, "price_amount": 1500, "stock": 3},
        ],
        **extra,
    }


async def count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def catalog_counts(session: AsyncSession) -> dict[str, int]:
    """Rows in every catalog table: compare before and after a refused write."""
    return {
        model.__name__: await count(session, model)
        for model in (Product, Sku, Stock, StockMovement, PriceTier, ProductImage, SearchDocument)
    }
