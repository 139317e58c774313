"""Idempotency-Key on API routes: the same key and body answer the same without a second effect; another body is
refused; a missing key is refused; keys are per user and kept at least a day; error answers are stored, request
validation errors are not."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from fixtures.idempotency_routes import NOTES, OPTIONAL, OTHER
from souk.kit.clock import clock, utcnow
from souk.kit.idempotency import (
    IdempotencyInProgress,
    IdempotencyKeyMismatch,
    IdempotentRequest,
    KeyClaim,
    StoredResponse,
    canonical_hash,
    claim_key,
    complete_key,
    release_key,
)
from souk.models import IdempotencyKey, Notification


async def _notes(session: AsyncSession, user_id: int) -> list[str]:
    rows = await session.scalars(
        select(Notification.title).where(Notification.user_id == user_id).order_by(Notification.id)
    )
    return list(rows)


async def _keys(session: AsyncSession, user_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.user_id == user_id)
        )
        or 0
    )


@pytest.fixture
async def caller(session: AsyncSession, user_factory) -> tuple[int, dict[str, str]]:  # type: ignore[no-untyped-def]
    user = await user_factory()
    headers = await api_token_for(session, user)
    await session.commit()
    return user.id, headers


class TestSameKey:
    async def test_same_key_and_body_return_the_stored_answer_once(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]]
    ) -> None:
        user_id, headers = caller
        sent = {**headers, "Idempotency-Key": "order-7f3a"}

        first = await client.post(NOTES, json={"title": "Paid", "tags": ["a"]}, headers=sent)
        second = await client.post(NOTES, json={"title": "Paid", "tags": ["a"]}, headers=sent)

        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert first.json()["title"] == "Paid" and first.json()["tags"] == ["a"]
        assert "idempotent-replayed" not in first.headers
        assert second.headers["idempotent-replayed"] == "true"
        assert await _notes(session, user_id) == ["Paid"]
        assert await _keys(session, user_id) == 1

    async def test_the_body_is_compared_by_value(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]]
    ) -> None:
        user_id, headers = caller
        sent = {**headers, "Idempotency-Key": "k-order", "Content-Type": "application/json"}
        first = await client.post(NOTES, content=b'{"title": "Same", "tags": ["x"]}', headers=sent)
        second = await client.post(NOTES, content=b'{"tags":["x"],"title":"Same"}', headers=sent)
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert await _notes(session, user_id) == ["Same"]

    async def test_same_key_with_another_body_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]]
    ) -> None:
        user_id, headers = caller
        sent = {**headers, "Idempotency-Key": "k-body"}
        assert (await client.post(NOTES, json={"title": "One"}, headers=sent)).status_code == 201

        other = await client.post(NOTES, json={"title": "Two"}, headers=sent)

        assert other.status_code == 422
        assert other.json()["error"] == "idempotency_error"
        assert other.json()["fields"] == {"Idempotency-Key": "was already used with another request"}
        assert await _notes(session, user_id) == ["One"]

    async def test_same_key_on_another_route_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]]
    ) -> None:
        user_id, headers = caller
        sent = {**headers, "Idempotency-Key": "k-route"}
        assert (await client.post(NOTES, json={"title": "Here"}, headers=sent)).status_code == 201
        elsewhere = await client.post(OTHER, json={"title": "Here"}, headers=sent)
        assert elsewhere.status_code == 422 and elsewhere.json()["error"] == "idempotency_error"
        assert await _notes(session, user_id) == ["Here"]

    async def test_keys_belong_to_their_user(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        user_factory,
        caller: tuple[int, dict[str, str]],
    ) -> None:
        user_id, headers = caller
        other = await user_factory()
        other_id = other.id
        other_headers = await api_token_for(session, other)
        await session.commit()
        mine = await client.post(
            NOTES, json={"title": "Mine"}, headers={**headers, "Idempotency-Key": "shared"}
        )
        theirs = await client.post(
            NOTES, json={"title": "Mine"}, headers={**other_headers, "Idempotency-Key": "shared"}
        )
        assert mine.status_code == theirs.status_code == 201
        assert mine.json()["id"] != theirs.json()["id"]
        assert "idempotent-replayed" not in theirs.headers
        assert await _notes(session, user_id) == ["Mine"]
        assert await _notes(session, other_id) == ["Mine"]


class TestMissingOrBadKey:
    async def test_a_required_key_is_asked_for(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]]
    ) -> None:
        user_id, headers = caller
        r = await client.post(NOTES, json={"title": "No key"}, headers=headers)
        assert r.status_code == 422
        assert r.json()["error"] == "idempotency_key_required", r.json()
        assert r.json()["fields"] == {"Idempotency-Key": "is required"}
        assert await _notes(session, user_id) == []

    @pytest.mark.parametrize("key", ["has space", "x" * 256, "tab\tkey", "ключ"])
    async def test_malformed_keys_are_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]], key: str
    ) -> None:
        user_id, headers = caller
        r = await client.post(
            NOTES, json={"title": "Bad key"}, headers={**headers, "Idempotency-Key": key.encode()}
        )
        assert r.status_code == 422 and "Idempotency-Key" in r.json()["fields"]
        assert await _notes(session, user_id) == []

    async def test_an_optional_key_may_be_left_out(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]]
    ) -> None:
        user_id, headers = caller
        for _ in range(2):
            assert (await client.post(OPTIONAL, json={"title": "Free"}, headers=headers)).status_code == 201
        keyed = {**headers, "Idempotency-Key": "opt-1"}
        for _ in range(2):
            assert (await client.post(OPTIONAL, json={"title": "Keyed"}, headers=keyed)).status_code == 201
        assert await _notes(session, user_id) == ["Free", "Free", "Keyed"]

    async def test_anonymous_callers_must_log_in(self, client: httpx.AsyncClient) -> None:
        r = await client.post(NOTES, json={"title": "Who"}, headers={"Idempotency-Key": "anon"})
        assert r.status_code == 401


class TestErrorsAndExpiry:
    async def test_an_error_answer_is_stored_and_replayed(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]]
    ) -> None:
        user_id, headers = caller
        sent = {**headers, "Idempotency-Key": "k-fail"}
        failed = await client.post(NOTES, json={"title": "fail"}, headers=sent)
        assert failed.status_code == 409 and failed.json()["error"] == "test_conflict"
        row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id))
        assert row is not None and (row.status, row.response_status) == ("done", 409)
        again = await client.post(NOTES, json={"title": "fail"}, headers=sent)
        assert (again.status_code, again.content) == (409, failed.content)
        assert again.headers["idempotent-replayed"] == "true"
        # the key is used up: a corrected request needs a new key
        fixed = await client.post(NOTES, json={"title": "fixed"}, headers=sent)
        assert fixed.status_code == 422 and fixed.json()["error"] == "idempotency_error"
        fresh = await client.post(
            NOTES, json={"title": "fixed"}, headers={**headers, "Idempotency-Key": "k-new"}
        )
        assert fresh.status_code == 201
        assert await _notes(session, user_id) == ["fixed"]

    async def test_a_validation_error_is_not_stored(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]]
    ) -> None:
        user_id, headers = caller
        sent = {**headers, "Idempotency-Key": "k-invalid"}
        bad = await client.post(NOTES, json={"title": 5}, headers=sent)
        assert bad.status_code == 422 and bad.json()["error"] == "invalid"
        assert await _keys(session, user_id) == 0
        assert (await client.post(NOTES, json={"title": "ok"}, headers=sent)).status_code == 201

    async def test_keys_are_kept_a_day_then_expire(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]], run_worker
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, headers = caller
        clock.freeze()
        sent = {**headers, "Idempotency-Key": "k-day"}
        first = await client.post(NOTES, json={"title": "Day"}, headers=sent)
        row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id))
        assert row is not None and row.expires_at - row.created_at == timedelta(hours=24)
        assert (row.status, row.response_status, row.response_body) == ("done", 201, first.json())

        clock.advance(timedelta(hours=23, minutes=59))
        replay = await client.post(NOTES, json={"title": "Day"}, headers=sent)
        assert replay.json() == first.json() and replay.headers["idempotent-replayed"] == "true"

        clock.advance(timedelta(minutes=2))
        await run_worker()  # the idempotency.expire timer deletes it
        assert await _keys(session, user_id) == 0
        fresh = await client.post(NOTES, json={"title": "Day"}, headers=sent)
        assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
        assert await _notes(session, user_id) == ["Day", "Day"]

    async def test_an_expired_key_not_yet_swept_is_replaced(
        self, client: httpx.AsyncClient, session: AsyncSession, caller: tuple[int, dict[str, str]]
    ) -> None:
        user_id, headers = caller
        sent = {**headers, "Idempotency-Key": "k-stale"}
        first = await client.post(NOTES, json={"title": "Old"}, headers=sent)
        clock.advance(timedelta(hours=25))
        again = await client.post(NOTES, json={"title": "New body is fine now"}, headers=sent)
        assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
        assert await _keys(session, user_id) == 1


class TestClaims:
    """The parts a multi-transaction flow (checkout around the payment call) uses directly."""

    def _request(self, user_id: int, body: bytes = b'{"cart": 1}') -> IdempotentRequest:
        return IdempotentRequest(
            user_id=user_id,
            key="flow-1",
            method="POST",
            path="/api/v1/checkouts",
            request_hash=canonical_hash(body),
        )

    async def test_a_held_key_is_in_progress_until_completed(
        self, session: AsyncSession, user_factory
    ) -> None:
        clock.freeze()
        user_id = (await user_factory()).id
        req = self._request(user_id)

        claim = await claim_key(session, req)
        assert isinstance(claim, KeyClaim) and not claim.resumed
        await session.commit()  # step 1 of the flow commits: the key is held

        with pytest.raises(IdempotencyInProgress) as held:
            await claim_key(session, req, wait=0.2)
        assert held.value.status_code == 409 and held.value.code == "idempotency_in_progress"
        with pytest.raises(IdempotencyKeyMismatch):
            await claim_key(session, self._request(user_id, b'{"cart": 2}'))

        stored = await complete_key(session, claim, 201, {"order": 5, "at": utcnow()})
        await session.commit()
        replay = await claim_key(session, req)
        assert replay == StoredResponse(status=201, body=stored.body, replayed=True)
        assert replay.body["order"] == 5 and isinstance(replay.body["at"], str)

    async def test_a_claim_whose_flow_died_is_taken_over(self, session: AsyncSession, user_factory) -> None:
        clock.freeze()
        user_id = (await user_factory()).id
        req = self._request(user_id)
        first = await claim_key(session, req)
        await session.commit()

        clock.advance(timedelta(minutes=5))
        taken = await claim_key(session, req)
        assert taken == KeyClaim(id=first.id, resumed=True)  # type: ignore[union-attr]
        await session.commit()
        with pytest.raises(IdempotencyInProgress):
            await claim_key(session, req, wait=0.2)  # the new holder has it for another five minutes

    async def test_a_released_key_runs_again(self, session: AsyncSession, user_factory) -> None:
        user_id = (await user_factory()).id
        req = self._request(user_id)
        claim = await claim_key(session, req)
        assert isinstance(claim, KeyClaim)
        await release_key(session, claim)
        assert await _keys(session, user_id) == 0
        again = await claim_key(session, req)
        assert isinstance(again, KeyClaim) and not again.resumed
        assert await _keys(session, user_id) == 1

    def test_canonical_hash(self) -> None:
        assert canonical_hash(b'{"a": 1, "b": [1, 2]}') == canonical_hash(b'{"b":[1,2],"a":1}')
        assert canonical_hash(b'{"a": 1}') != canonical_hash(b'{"a": 2}')
        assert canonical_hash(b"") == canonical_hash(b"  ")
        assert canonical_hash(b"not json") != canonical_hash(b"not json!")
