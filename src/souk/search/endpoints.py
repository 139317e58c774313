"""JSON routes under /api/v1 for product search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from souk.deps import ApiActor, DbSession
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT
from souk.search.schemas import MAX_ID, MAX_PRICE, SearchFilters, SearchResult, SortName, TradeModelName
from souk.search.service import search_service

router = APIRouter(tags=["search"], responses=ERROR_RESPONSES)


@router.get(
    "/search",
    summary="Search products",
    response_model=SearchResult,
    responses={422: {"description": "A parameter is invalid; `fields` names it."}},
)
async def search_products(
    session: DbSession,
    actor: ApiActor,
    q: Annotated[
        str,
        Query(
            description="Words to find (case and accents ignored); all must match, the last one as a prefix."
        ),
    ] = "",
    category: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="A category id; its subcategories are included.")
    ] = None,
    trade_model: Annotated[TradeModelName | None, Query()] = None,
    min_price: Annotated[
        int | None, Query(ge=0, le=MAX_PRICE, description="Lowest price, in minor units of `currency`.")
    ] = None,
    max_price: Annotated[
        int | None, Query(ge=0, le=MAX_PRICE, description="Highest price, in minor units of `currency`.")
    ] = None,
    currency: Annotated[
        str | None,
        Query(
            max_length=3,
            description="ISO 4217 code. Only products priced in it are returned; USD when a price is given.",
        ),
    ] = None,
    store: Annotated[int | None, Query(ge=1, le=MAX_ID, description="A store id.")] = None,
    sort: Annotated[
        SortName | None, Query(description="Default: relevance with a query, newest without.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=500, description="`next_cursor` of the previous page.")
    ] = None,
) -> SearchResult:
    """Visible products matching the words and filters, with the total and facet counts of the whole
    result (top-level categories and the chosen category's children, trade models, top stores, currencies)."""
    filters = SearchFilters(
        q=q,
        category=category,
        trade_model=trade_model,
        min_price=min_price,
        max_price=max_price,
        currency=currency,
        store=store,
        sort=sort,
    )
    return await search_service.search(session, actor, filters, limit=limit, cursor=cursor)
