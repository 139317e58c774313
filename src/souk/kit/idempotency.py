"""Idempotency: a retried request or a double-submitted form never does the work twice (ADR 0005).

Every state-changing API request (POST, PUT, PATCH, DELETE under ``/api/v1``) of a user may carry an
``Idempotency-Key`` header. Most routes get it from the generic layer (``souk.kit.idempotent_routes``, installed
by ``create_app``) and need no code of their own. Routes that declare the header themselves manage their key:

```python
@router.post("/payouts", status_code=201)
async def create_payout(
    request: Request, body: PayoutCreate, actor: ApiActor, session: DbSession, key: IdempotencyKeyHeader
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 201, await payout_service.request(session, actor, body)
    return await idempotent(session, actor, request, key, compute)  # the key is required (required=False: optional)
```

- no key on a route that requires one: 422 ``idempotency_key_required``, field ``Idempotency-Key``;
- the same key with the same body (and method and path): the stored answer, same status and body, marked with
  the header ``Idempotent-Replayed: true``, without running ``compute`` again; a ``SoukError`` 4xx raised by
  ``compute`` is an answer too (its work is rolled back to a savepoint, the error is stored and replayed);
- the same key with another body or on another route: 422 ``idempotency_error``;
- a key held by a request still running: waited for (``WAIT_SECONDS``) and its answer returned; still running
  after that: 409 ``idempotency_in_progress`` with ``Retry-After``.

A flow spanning several transactions (checkout around the payment call, rule 5) uses the parts directly:
``read_idempotent_request`` -> ``claim_key`` (commit: the key is held, ``in_progress``) -> ... ->
``complete_key`` / ``store_error`` (stores the answer) or ``release_key`` (gives the key back after a failure). A
claim whose flow died is taken over after ``hold`` by a retry, with ``KeyClaim.resumed`` set so the flow looks for
its earlier work.

Web forms use a one-time token instead (``issue_form_token`` / ``consume_form_token`` / ``record_form_result``).
Keys and used tokens are deleted after they expire by the timer ``idempotency.expire`` (``souk.worker.tasks``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from souk.auth.actor import Actor
from souk.auth.tokens import constant_equal, sign
from souk.authz import require_user
from souk.db import dialect_of
from souk.errors import Conflict, Invalid, SoukError
from souk.kit.clock import utcnow
from souk.models.idempotency import FormTokenUse, IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
DEFAULT_TTL = timedelta(hours=24)
# how long a multi-transaction flow holds a claimed key before a retry may take it over
DEFAULT_HOLD = timedelta(minutes=5)
# how long a request waits for another request holding its key to finish before answering 409
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.02
POLL_MAX_SECONDS = 0.25
HEADER_DESCRIPTION = (
    "A unique value (e.g. a UUID) per operation, 1 to 255 visible ASCII characters. Retrying with the same key "
    "and body returns the first answer (status and body, errors included) instead of doing the work again; the "
    "same key with another request is refused (422 `idempotency_error`); a key still in use by a running request "
    "is waited for a few seconds, then refused (409 `idempotency_in_progress`, with `Retry-After`). Keys belong "
    "to the calling user and are kept at least 24 hours; without a user (no API token) the header is ignored."
)
# documented in the OpenAPI; checked by ``_check_key`` (so that the error names the header)
HEADER_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}


def _idempotency_key_header(
    key: Annotated[
        str | None,
        Header(alias=HEADER, description=HEADER_DESCRIPTION, json_schema_extra=HEADER_SCHEMA),
    ] = None,
) -> str | None:
    return key


# the route parameter: ``key: IdempotencyKeyHeader`` (None when the header is missing)
IdempotencyKeyHeader = Annotated[str | None, Depends(_idempotency_key_header)]


class IdempotencyKeyRequired(Invalid):
    code = "idempotency_key_required"


class IdempotencyKeyMismatch(Invalid):
    """The key was used before with another method, path or body."""

    code = "idempotency_error"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    # read by the app's error handler
    headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}

    def __init__(self) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still being processed; retry in a moment.",
            fields={HEADER: "is in use by a request still running"},
        )


class FormTokenInvalid(Invalid):
    code = "form_token_invalid"


# --- API keys ---------------------------------------------------------------------------------------


def canonical_hash(body: bytes) -> str:
    """sha256 (hex) of a request body: JSON is compared by value (key order and spacing do not matter)."""
    try:
        value = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        return hashlib.sha256(body).hexdigest()
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class IdempotentRequest:
    user_id: int
    key: str
    method: str
    path: str
    request_hash: str


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    replayed: bool = False

    def to_response(self) -> JSONResponse:
        """The answer as JSON; the first one and every replay are rendered the same way (byte for byte)."""
        headers = {REPLAYED_HEADER: "true"} if self.replayed else None
        return JSONResponse(self.body, status_code=self.status, headers=headers)

    def render(self) -> Response:
        """``to_response``, or an empty response for a stored 204."""
        if self.status in (204, 304) and self.body is None:
            headers = {REPLAYED_HEADER: "true"} if self.replayed else None
            return Response(status_code=self.status, headers=headers)
        return self.to_response()


@dataclass(frozen=True)
class KeyClaim:
    """The caller holds the key and does the work; ``resumed``: a previous holder died half-way."""

    id: int
    resumed: bool = False


def _check_key(key: str | None, required: bool) -> str | None:
    if key is None or key == "":
        if required:
            raise IdempotencyKeyRequired(
                f"Send an {HEADER} header (e.g. a UUID) so that a retry cannot do this twice.",
                fields={HEADER: "is required"},
            )
        return None
    check_key_format(key)
    return key


def check_key_format(key: str) -> None:
    """422 naming the header unless ``key`` is 1 to 255 visible ASCII characters."""
    if not key or len(key) > KEY_MAX_LENGTH or not all(33 <= ord(ch) <= 126 for ch in key):
        raise Invalid(
            f"The {HEADER} header must be 1 to {KEY_MAX_LENGTH} visible ASCII characters.",
            fields={HEADER: f"must be 1 to {KEY_MAX_LENGTH} visible ASCII characters"},
        )


async def read_idempotent_request(
    actor: Actor, request: Request, key: str | None, *, required: bool = True, request_hash: str | None = None
) -> IdempotentRequest | None:
    """Who sends which key for which request (None: no key on a route where it is optional). ``request_hash``:
    the caller's own hash of the request, for bodies whose bytes differ between retries (a multipart form's
    boundary); by default ``canonical_hash`` of the body."""
    user_id = require_user(actor)
    checked = _check_key(key, required)
    if checked is None:
        return None
    return IdempotentRequest(
        user_id=user_id,
        key=checked,
        method=request.method.upper(),
        path=request.url.path,
        request_hash=request_hash or await request_hash_of(request),
    )


async def request_hash_of(request: Request) -> str:
    """The hash of a request's body: ``canonical_hash`` of JSON (or any other bytes); for a form, its fields and
    each file's name and sha256 (a multipart boundary changes between retries)."""
    content_type = request.headers.get("content-type", "")
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers:
        # no body: do not wait on the connection for one (a second receive() only ends at disconnect)
        return canonical_hash(b"")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return canonical_hash(await request.body())
    form = await request.form()  # parsed once, cached on the request
    parts: list[list[str | None]] = []
    for name, value in form.multi_items():
        if isinstance(value, str):
            parts.append([name, value])
            continue
        digest = hashlib.sha256()
        while chunk := await value.read(65536):
            digest.update(chunk)
        await value.seek(0)
        parts.append([name, value.filename, digest.hexdigest()])
    encoded = json.dumps(sorted(parts, key=lambda p: json.dumps(p)), separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


async def _key_row(session: AsyncSession, user_id: int, key: str) -> IdempotencyKey | None:
    return await session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    )


def _same_request(row: IdempotencyKey, req: IdempotentRequest) -> None:
    if row.method != req.method or row.path != req.path or row.request_hash != req.request_hash:
        raise IdempotencyKeyMismatch(
            f"This {HEADER} was already used for another request; use a new key for a new request.",
            fields={HEADER: "was already used with another request"},
        )


async def claim_key(
    session: AsyncSession,
    req: IdempotentRequest,
    *,
    ttl: timedelta = DEFAULT_TTL,
    hold: timedelta = DEFAULT_HOLD,
    wait: float | None = None,
) -> StoredResponse | KeyClaim:
    """The stored answer of this key, or a claim on it (a new ``in_progress`` row in this transaction).

    A key held by a request still running is waited for (at most ``wait`` seconds, ``WAIT_SECONDS`` by default)
    and its answer returned; still running after that: ``IdempotencyInProgress`` (409). While it waits for a
    committed claim (a multi-transaction flow) the session's transaction is rolled back between two looks, so a
    caller must claim before it does any work of its own."""
    deadline = time.monotonic() + (WAIT_SECONDS if wait is None else wait)
    delay = POLL_SECONDS
    while True:
        outcome = await _try_claim(session, req, ttl=ttl, hold=hold, deadline=deadline)
        if outcome is _AGAIN:
            continue  # another request committed the key first: read it
        if outcome is not None:
            return outcome  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise IdempotencyInProgress()
        # end this transaction (on SQLite: free the write lock) so that the holder can finish
        await session.rollback()
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, POLL_MAX_SECONDS)  # many waiters must not crowd out the holder


_AGAIN = object()


async def _try_claim(
    session: AsyncSession, req: IdempotentRequest, *, ttl: timedelta, hold: timedelta, deadline: float
) -> StoredResponse | KeyClaim | object | None:
    """The answer, a claim, ``_AGAIN`` (read again at once) or None (held by a running request).

    A new key (the usual case) costs one statement: the claim is inserted first and the row is read only when
    the key exists already."""
    now = utcnow()
    claimed = await _insert_claim(session, req, ttl=ttl, hold=hold, now=now)
    if claimed is not None:
        return KeyClaim(id=claimed)
    row = await _key_row(session, req.user_id, req.key)
    if row is None:
        return None  # claimed by a transaction not committed yet (PostgreSQL): look again shortly
    if row.expires_at <= now:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row.id))
        return _AGAIN
    _same_request(row, req)
    if row.status == "done":
        return StoredResponse(status=row.response_status or 200, body=row.response_body, replayed=True)
    taken = await session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.id == row.id,
            IdempotencyKey.status == "in_progress",
            IdempotencyKey.locked_until <= now,
        )
        .values(locked_until=now + hold),
        execution_options={"synchronize_session": False},
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return KeyClaim(id=row.id, resumed=True)
    return None


# pg_try_advisory_xact_lock(CLAIM_LOCK_CLASS, hash of the key): the two-integer key space of advisory locks,
# with a class of its own so that no other lock of Souk's can collide with a claim
CLAIM_LOCK_CLASS = 0x1DE7


def _claim_lock(user_id: int, key: str) -> int:
    digest = hashlib.sha256(f"{user_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


async def _insert_claim(
    session: AsyncSession, req: IdempotentRequest, *, ttl: timedelta, hold: timedelta, now: datetime
) -> int | None:
    """Insert the key as ``in_progress`` held for ``hold``; its id, or None when the key exists already or
    (PostgreSQL) another transaction is claiming it right now.

    ``ON CONFLICT DO NOTHING`` makes an existing key no error (no savepoint needed). On PostgreSQL an INSERT
    whose key another transaction has inserted but not committed would wait for that transaction (a checkout's
    first step takes a while); the claim instead first takes a transaction-scoped advisory lock on the key,
    without waiting (``pg_try_advisory_xact_lock``): every claim of the key takes it, so a claim that gets it
    never meets an uncommitted row of the key, and one that does not get it inserts nothing and answers at once.
    On SQLite writers take turns (``BEGIN IMMEDIATE``): an existing key is always a committed one."""
    values = {
        "user_id": req.user_id,
        "key": req.key,
        "method": req.method,
        "path": req.path,
        "request_hash": req.request_hash,
        "status": "in_progress",
        "locked_until": now + hold,
        "created_at": now,
        "expires_at": now + max(ttl, DEFAULT_TTL),
    }
    table = IdempotencyKey.__table__
    if dialect_of(session) == "postgresql":
        columns = list(values)
        source = select(*[literal(values[name], type_=table.c[name].type) for name in columns]).where(
            func.pg_try_advisory_xact_lock(CLAIM_LOCK_CLASS, _claim_lock(req.user_id, req.key))
        )
        stmt: Any = pg_insert(IdempotencyKey).from_select(columns, source)
    else:
        stmt = sqlite_insert(IdempotencyKey).values(**values)
    claimed = await session.scalar(
        stmt.on_conflict_do_nothing(index_elements=["user_id", "key"]).returning(table.c.id)
    )
    return int(claimed) if claimed is not None else None


def storable(error: SoukError) -> bool:
    """Whether an error raised once the work began is stored with its key and replayed: a 4xx answer about the
    work. Not stored: 401 and 429 (about the caller, not the work), the key's own errors, 5xx."""
    return (
        400 <= error.status_code < 500
        and error.status_code not in (401, 429)
        and not isinstance(error, (IdempotencyKeyRequired, IdempotencyKeyMismatch, IdempotencyInProgress))
    )


async def store_error(session: AsyncSession, claim: KeyClaim, error: SoukError) -> StoredResponse:
    """Store an error as the answer of a claimed key (the caller rolled its work back to a savepoint)."""
    return await complete_key(session, claim, error.status_code, error.to_dict())


async def complete_key(session: AsyncSession, claim: KeyClaim, status: int, body: Any) -> StoredResponse:
    """Store the answer of a claimed key; later requests with the key get it."""
    encoded = jsonable_encoder(body)
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claim.id)
        .values(
            status="done",
            response_status=status,
            response_body=encoded,
            completed_at=utcnow(),
            locked_until=None,
        ),
        execution_options={"synchronize_session": False},
    )
    return StoredResponse(status=status, body=encoded)


async def release_key(session: AsyncSession, claim: KeyClaim) -> None:
    """Give a claimed key back (the work failed and was undone): a retry with it runs again."""
    await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.id == claim.id, IdempotencyKey.status == "in_progress")
    )


def ttl_of(request: Request) -> timedelta:
    """How long keys are kept: ``SOUK_IDEMPOTENCY_KEY_HOURS`` (24 by default, never less)."""
    settings = getattr(request.app.state, "settings", None)
    hours = getattr(settings, "idempotency_key_hours", None)
    return timedelta(hours=hours) if isinstance(hours, int) else DEFAULT_TTL


async def idempotent(
    session: AsyncSession,
    actor: Actor,
    request: Request,
    key: str | None,
    compute: Callable[[], Awaitable[tuple[int, Any]]],
    *,
    required: bool = True,
    request_hash: str | None = None,
) -> JSONResponse:
    """Run ``compute`` (which returns ``(status, body)``) at most once per key, in the request's transaction
    (``request_hash``: see ``read_idempotent_request``)."""
    req = await read_idempotent_request(actor, request, key, required=required, request_hash=request_hash)
    if req is None:
        status, body = await compute()
        return JSONResponse(jsonable_encoder(body), status_code=status)
    outcome = await claim_key(session, req, ttl=ttl_of(request))
    if isinstance(outcome, StoredResponse):
        return outcome.to_response()
    work = await session.begin_nested()
    try:
        status, body = await compute()
    except SoukError as error:
        # stored unless ``compute`` committed on its own (a flow past its first step: the claim stays held)
        if not storable(error) or not work.is_active:
            raise
        await work.rollback()
        return (await store_error(session, outcome, error)).to_response()
    if work.is_active:
        await work.commit()
    stored = await complete_key(session, outcome, status, body)
    return stored.to_response()


async def delete_expired_keys(session: AsyncSession, now: datetime, *, limit: int = 500) -> int:
    """Delete up to ``limit`` expired keys and used form tokens; how many rows went."""
    key_ids = list(
        (
            await session.scalars(
                select(IdempotencyKey.id).where(IdempotencyKey.expires_at <= now).limit(limit)
            )
        ).all()
    )
    if key_ids:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(key_ids)))
    token_ids = list(
        (
            await session.scalars(select(FormTokenUse.id).where(FormTokenUse.expires_at <= now).limit(limit))
        ).all()
    )
    if token_ids:
        await session.execute(delete(FormTokenUse).where(FormTokenUse.id.in_(token_ids)))
    return len(key_ids) + len(token_ids)


# --- one-time form tokens ---------------------------------------------------------------------------

FORM_TOKEN_FIELD = "form_token"
FORM_TOKEN_TTL = timedelta(hours=24)


def _secret(request: Request) -> str:
    key: str = request.app.state.settings.resolved_secret_key
    return key


def _token_message(user_id: int, purpose: str, nonce: str, expires: int) -> str:
    return f"form-token:{user_id}:{purpose}:{nonce}:{expires}"


def issue_form_token(request: Request, actor: Actor, purpose: str, *, ttl: timedelta = FORM_TOKEN_TTL) -> str:
    """A one-time token for a form (render it in a hidden ``form_token`` field). Signed, not stored: showing a
    form writes nothing; the token is recorded when it is used."""
    user_id = require_user(actor)
    nonce = secrets.token_urlsafe(18)
    expires = int((utcnow() + ttl).timestamp())
    signature = sign(_secret(request), _token_message(user_id, purpose, nonce, expires))
    return f"{nonce}.{expires}.{signature}"


@dataclass(frozen=True)
class FormSubmission:
    """The outcome of submitting a form token. ``first``: this submission is the first, do the work (then
    ``record_form_result``); otherwise the form was already submitted and ``result`` is what the first submission
    recorded (None while it is still running)."""

    id: int
    first: bool
    result: str | None = None


def _expired_form() -> FormTokenInvalid:
    return FormTokenInvalid(
        "This form has expired or was not made for you. Reload the page and try again.",
        fields={FORM_TOKEN_FIELD: "has expired; reload the page"},
    )


async def consume_form_token(
    session: AsyncSession, request: Request, actor: Actor, purpose: str, token: str | None
) -> FormSubmission:
    """Use a form token once (in the caller's transaction). A second submission of the same token is detected;
    a rolled-back first submission leaves the token unused."""
    user_id = require_user(actor)
    nonce, _, rest = (token or "").partition(".")
    expires_text, _, signature = rest.partition(".")
    if not nonce or not expires_text.isdigit() or not signature or len(nonce) > 64:
        raise _expired_form()
    expected = sign(_secret(request), _token_message(user_id, purpose, nonce, int(expires_text)))
    if not constant_equal(signature, expected):
        raise _expired_form()
    now = utcnow()
    expires_at = datetime.fromtimestamp(int(expires_text), tz=now.tzinfo)
    if expires_at <= now:
        raise _expired_form()
    use = FormTokenUse(nonce=nonce, user_id=user_id, purpose=purpose, used_at=now, expires_at=expires_at)
    try:
        async with session.begin_nested():
            session.add(use)
    except IntegrityError:
        # used before (on PostgreSQL a concurrent first submission is waited for)
        earlier = await session.scalar(
            select(FormTokenUse).where(FormTokenUse.nonce == nonce).execution_options(populate_existing=True)
        )
        if earlier is None:
            raise _expired_form() from None
        return FormSubmission(id=earlier.id, first=False, result=earlier.result)
    return FormSubmission(id=use.id, first=True)


async def record_form_result(session: AsyncSession, use: FormSubmission, result: str) -> None:
    """Remember what the first submission made (e.g. the URL of the order) for a repeated submission."""
    await session.execute(
        update(FormTokenUse)
        .where(FormTokenUse.id == use.id)
        .values(result=result[:500])
        .execution_options(synchronize_session=False)
    )
