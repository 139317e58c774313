"""JSON routes under /api/v1: categories, products, variants, price tiers and images."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile

from souk.catalog.categories import category_service
from souk.catalog.schemas import (
    CategoryCreate,
    CategoryDetail,
    CategoryNode,
    CategoryRead,
    CategoryUpdate,
    ImageRead,
    ImageUpdate,
    PriceTiersPut,
    ProductCreate,
    ProductPageRead,
    ProductRead,
    ProductStatus,
    ProductUpdate,
    SkuCreate,
    SkuRead,
    SkuRemoved,
    SkuUpdate,
)
from souk.catalog.service import catalog_service
from souk.deps import ApiActor, DbSession, Storage
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import MAX_ID, IdPath, LimitQuery, OptionalIdQuery
from souk.kit.uploads import read_upload

router = APIRouter(responses=ERROR_RESPONSES)

Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
Limit = LimitQuery


# --- categories -------------------------------------------------------------------------------------


@router.get(
    "/categories", tags=["categories"], summary="The whole category tree", response_model=list[CategoryNode]
)
async def category_tree(session: DbSession) -> list[CategoryNode]:
    return [CategoryNode.of(node) for node in await category_service.tree(session)]


@router.get(
    "/categories/{category_id}",
    tags=["categories"],
    summary="A category with its ancestors and children",
    response_model=CategoryDetail,
)
async def category_detail(category_id: IdPath, session: DbSession) -> CategoryDetail:
    data = await category_service.get(session, category_id)
    return CategoryDetail(
        **CategoryRead.model_validate(data.category).model_dump(),
        path=[CategoryRead.model_validate(c) for c in data.path],
        children=[CategoryRead.model_validate(c) for c in data.children],
    )


@router.post(
    "/categories",
    tags=["categories"],
    summary="Create a category (operators)",
    status_code=201,
    response_model=CategoryRead,
)
async def create_category(body: CategoryCreate, actor: ApiActor, session: DbSession) -> CategoryRead:
    return CategoryRead.model_validate(await category_service.create(session, actor, body))


@router.patch(
    "/categories/{category_id}",
    tags=["categories"],
    summary="Rename, reorder or move a category (operators)",
    response_model=CategoryRead,
)
async def update_category(
    category_id: IdPath, body: CategoryUpdate, actor: ApiActor, session: DbSession
) -> CategoryRead:
    return CategoryRead.model_validate(await category_service.update(session, actor, category_id, body))


# --- products ---------------------------------------------------------------------------------------


@router.get(
    "/products",
    tags=["products"],
    summary="Products buyers can see, newest first",
    response_model=ProductPageRead,
)
async def list_products(
    session: DbSession,
    storage: Storage,
    store_id: OptionalIdQuery = None,
    category_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="this category and its subcategories")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = None,
) -> ProductPageRead:
    page = await catalog_service.list_visible(
        session, store_id=store_id, category_id=category_id, cursor=cursor, limit=limit
    )
    return ProductPageRead(
        items=[ProductRead.of(v, storage) for v in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/products/{product_id}",
    tags=["products"],
    summary="A product (buyers see published ones; the store's people also drafts)",
    response_model=ProductRead,
)
async def get_product(
    product_id: IdPath, actor: ApiActor, session: DbSession, storage: Storage
) -> ProductRead:
    return ProductRead.of(await catalog_service.get_product(session, actor, product_id), storage)


@router.post(
    "/stores/{store_id}/products",
    tags=["products"],
    summary="Create a draft product with its variants",
    status_code=201,
    response_model=ProductRead,
)
async def create_product(
    store_id: IdPath, body: ProductCreate, actor: ApiActor, session: DbSession, storage: Storage
) -> ProductRead:
    return ProductRead.of(await catalog_service.create(session, actor, store_id, body), storage)


@router.get(
    "/stores/{store_id}/products",
    tags=["products"],
    summary="A store's products for its people, drafts and archived included",
    response_model=ProductPageRead,
)
async def list_store_products(
    store_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
    status: ProductStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = None,
) -> ProductPageRead:
    page = await catalog_service.list_store_products(
        session, actor, store_id, status=status, cursor=cursor, limit=limit
    )
    return ProductPageRead(
        items=[ProductRead.of(v, storage) for v in page.items], next_cursor=page.next_cursor
    )


@router.patch(
    "/products/{product_id}", tags=["products"], summary="Edit a product", response_model=ProductRead
)
async def update_product(
    product_id: IdPath, body: ProductUpdate, actor: ApiActor, session: DbSession, storage: Storage
) -> ProductRead:
    return ProductRead.of(await catalog_service.update(session, actor, product_id, body), storage)


@router.post(
    "/products/{product_id}/publish",
    tags=["products"],
    summary="Publish a draft (needs an active variant)",
    response_model=ProductRead,
)
async def publish_product(
    product_id: IdPath, actor: ApiActor, session: DbSession, storage: Storage
) -> ProductRead:
    return ProductRead.of(await catalog_service.publish(session, actor, product_id), storage)


@router.post(
    "/products/{product_id}/archive",
    tags=["products"],
    summary="Archive a product",
    response_model=ProductRead,
)
async def archive_product(
    product_id: IdPath, actor: ApiActor, session: DbSession, storage: Storage
) -> ProductRead:
    return ProductRead.of(await catalog_service.archive(session, actor, product_id), storage)


@router.post(
    "/products/{product_id}/restore",
    tags=["products"],
    summary="Restore an archived product to draft",
    response_model=ProductRead,
)
async def restore_product(
    product_id: IdPath, actor: ApiActor, session: DbSession, storage: Storage
) -> ProductRead:
    return ProductRead.of(await catalog_service.restore(session, actor, product_id), storage)


# --- variants and price tiers -----------------------------------------------------------------------


@router.get(
    "/products/{product_id}/skus",
    tags=["products"],
    summary="A product's variants with their stock",
    response_model=list[SkuRead],
)
async def list_skus(product_id: IdPath, actor: ApiActor, session: DbSession) -> list[SkuRead]:
    return [SkuRead.of(v) for v in await catalog_service.list_skus(session, actor, product_id)]


@router.post(
    "/products/{product_id}/skus",
    tags=["products"],
    summary="Add a variant",
    status_code=201,
    response_model=SkuRead,
)
async def add_sku(product_id: IdPath, body: SkuCreate, actor: ApiActor, session: DbSession) -> SkuRead:
    return SkuRead.of(await catalog_service.add_sku(session, actor, product_id, body))


@router.patch(
    "/products/{product_id}/skus/{sku_id}",
    tags=["products"],
    summary="Edit a variant",
    response_model=SkuRead,
)
async def update_sku(
    product_id: IdPath, sku_id: IdPath, body: SkuUpdate, actor: ApiActor, session: DbSession
) -> SkuRead:
    return SkuRead.of(await catalog_service.update_sku(session, actor, product_id, sku_id, body))


@router.delete(
    "/products/{product_id}/skus/{sku_id}",
    tags=["products"],
    summary="Remove a variant (deactivated instead when it has stock history)",
    response_model=SkuRemoved,
)
async def remove_sku(product_id: IdPath, sku_id: IdPath, actor: ApiActor, session: DbSession) -> SkuRemoved:
    outcome = await catalog_service.remove_sku(session, actor, product_id, sku_id)
    return SkuRemoved(id=sku_id, outcome=outcome)


@router.put(
    "/products/{product_id}/price-tiers",
    tags=["products"],
    summary="Replace the volume price tiers (sourcing stores)",
    response_model=ProductRead,
)
async def set_price_tiers(
    product_id: IdPath, body: PriceTiersPut, actor: ApiActor, session: DbSession, storage: Storage
) -> ProductRead:
    return ProductRead.of(await catalog_service.set_price_tiers(session, actor, product_id, body), storage)


# --- images -----------------------------------------------------------------------------------------


@router.post(
    "/products/{product_id}/images",
    tags=["products"],
    summary="Upload one or more images (JPEG, PNG or WebP; at most 10 per product)",
    status_code=201,
    response_model=list[ImageRead],
    responses={413: {"description": "a file is larger than the upload limit"}},
)
async def upload_images(
    product_id: IdPath,
    files: Annotated[list[UploadFile], File(description="image files")],
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
) -> list[ImageRead]:
    data = [await read_upload(f, storage.max_bytes, "image") for f in files]
    images = await catalog_service.add_images(session, actor, product_id, data, storage)
    return [ImageRead.of(i, storage) for i in images]


@router.patch(
    "/products/{product_id}/images/{image_id}",
    tags=["products"],
    summary="Move an image (position 0 = primary) or change its alt text",
    response_model=ImageRead,
)
async def update_image(
    product_id: IdPath,
    image_id: IdPath,
    body: ImageUpdate,
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
) -> ImageRead:
    return ImageRead.of(
        await catalog_service.update_image(session, actor, product_id, image_id, body), storage
    )


@router.delete(
    "/products/{product_id}/images/{image_id}", tags=["products"], summary="Delete an image", status_code=204
)
async def delete_image(
    product_id: IdPath, image_id: IdPath, actor: ApiActor, session: DbSession, storage: Storage
) -> Response:
    await catalog_service.delete_image(session, actor, product_id, image_id, storage)
    return Response(status_code=204)
