"""Password reset: the same answer whether or not the account exists, rate limited, a single-use expiring token
stored only as a hash, earlier tokens invalidated, every session and API token ended; the email goes through the
outbox and the mail.send job, and the link's token never reaches a log."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
from account_support import session_count
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for, form, login_as
from fixtures.factories import PASSWORD
from souk.auth.passwords import verify_password
from souk.auth.tokens import hash_secret
from souk.config import Settings
from souk.kit.clock import clock
from souk.mail.tasks import WIPED
from souk.models import ApiToken, Job, OutboundEmail, PasswordResetToken, User
from souk.web.account.routes import RESET_SENT

NEW_PASSWORD = "a brand new passphrase"
LINK = re.compile(r"http://localhost:8000/account/reset/([A-Za-z0-9_-]{43})\b")


async def emails_to(session: AsyncSession, address: str) -> list[OutboundEmail]:
    return list(
        (
            await session.scalars(
                select(OutboundEmail).where(OutboundEmail.to_address == address).order_by(OutboundEmail.id)
            )
        ).all()
    )


async def ask_reset(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/account/forgot", data=form(client, email=email))


async def latest_token(session: AsyncSession, address: str) -> str:
    """The raw token of the newest reset email to ``address`` (it exists only in the email)."""
    emails = await emails_to(session, address)
    assert emails, f"no email to {address}"
    match = LINK.search(emails[-1].body)
    assert match is not None, emails[-1].body
    return match.group(1)


async def test_login_page_links_to_the_forgot_password_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/login")
    assert '<a href="/account/forgot">Forgot password?</a>' in r.text
    r = await client.get("/account/forgot")
    assert r.status_code == 200 and '<label for="f-email">' in r.text
    assert 'action="/account/forgot"' in r.text and ">Email me a reset link</button>" in r.text
    assert f'name="csrf_token" value="{client.csrf}"' in r.text  # type: ignore[attr-defined]


async def test_same_answer_whether_or_not_the_account_exists(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any, settings: Settings
) -> None:
    await user_factory(email="known@example.com")
    await session.commit()
    answers = []
    for email in ("known@example.com", "unknown@example.com"):
        r = await ask_reset(client, email)
        page = await client.get(r.headers["location"])
        answers.append((r.status_code, r.headers["location"], RESET_SENT.format(minutes=60) in page.text))
    assert answers[0] == answers[1] == (303, "/login", True)
    # only the real account gets an email (and one mail.send job); the unknown address gets nothing
    [sent] = await emails_to(session, "known@example.com")
    assert await emails_to(session, "unknown@example.com") == []
    assert sent.sensitive and sent.sent_at is None and settings.site_name in sent.subject
    jobs = (await session.scalars(select(Job).where(Job.kind == "mail.send"))).all()
    assert [j.payload for j in jobs] == [{"email_id": sent.id}]
    # the token is stored only as its hash
    raw = await latest_token(session, "known@example.com")
    stored = (await session.scalars(select(PasswordResetToken.token_hash))).all()
    assert stored == [hash_secret(raw)] and raw not in stored


async def test_bad_email_is_a_field_error(client: httpx.AsyncClient) -> None:
    r = await ask_reset(client, "")
    assert r.status_code == 422 and 'id="f-email"' in r.text


async def test_full_reset_through_the_pages(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any, run_worker: Any, settings: Settings
) -> None:
    user = await user_factory(email="forgetful@example.com")
    user_id = user.id
    # logged in elsewhere, with an API token: a reset ends both
    elsewhere = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    await login_as(elsewhere, session, user)
    headers = await api_token_for(session, user)
    await session.commit()
    assert await session_count(session, user_id) == 1

    assert (await ask_reset(client, "forgetful@example.com")).status_code == 303
    raw = await latest_token(session, "forgetful@example.com")

    # the worker delivers it (an .eml file by default) and wipes the body that held the link
    stats = await run_worker()
    assert stats.jobs_done >= 1
    [email] = await emails_to(session, "forgetful@example.com")
    assert email.sent_at is not None and email.body == WIPED and raw not in email.body
    eml = Path(settings.data_dir) / "outbox" / f"email-{email.id:08d}.eml"
    message = message_from_bytes(eml.read_bytes())
    assert message["To"] == "forgetful@example.com" and raw in message.get_payload(decode=True).decode()
    assert (eml.stat().st_mode & 0o077) == 0  # readable by the owner only
    assert (await run_worker()).jobs_done == 0  # sent once

    page = await client.get(f"/account/reset/{raw}")
    assert page.status_code == 200 and ">Set new password</button>" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert f'action="/account/reset/{raw}"' in page.text

    # a mismatch or a short password is a field error and does not use the token up
    r = await client.post(f"/account/reset/{raw}", data=form(client, new_password=NEW_PASSWORD, confirm="x"))
    assert r.status_code == 422 and "does not match" in r.text
    r = await client.post(f"/account/reset/{raw}", data=form(client, new_password="short", confirm="short"))
    assert r.status_code == 422 and 'id="f-new_password"' in r.text

    r = await client.post(
        f"/account/reset/{raw}", data=form(client, new_password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"
    refreshed = await session.scalar(
        select(User).where(User.id == user_id).execution_options(populate_existing=True)
    )
    assert refreshed is not None and verify_password(refreshed.password_hash, NEW_PASSWORD)
    # every web session ended, every API token revoked
    assert await session_count(session, user_id) == 0
    assert (await elsewhere.get("/account")).status_code == 303
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
    active = await session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    )
    assert active == 0
    await elsewhere.aclose()

    # single use
    page = await client.get(f"/account/reset/{raw}")
    assert page.status_code == 410 and "invalid, was already used, or has expired" in page.text
    r = await client.post(
        f"/account/reset/{raw}",
        data=form(client, new_password="yet another password", confirm="yet another password"),
    )
    assert r.status_code == 410
    # the new password logs in, the old one does not
    r = await client.post("/login", data=form(client, email="forgetful@example.com", password=PASSWORD))
    assert r.status_code == 401
    r = await client.post("/login", data=form(client, email="forgetful@example.com", password=NEW_PASSWORD))
    assert r.status_code == 303


async def test_the_token_expires_after_an_hour(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any
) -> None:
    await user_factory(email="slow@example.com")
    await session.commit()
    await ask_reset(client, "slow@example.com")
    raw = await latest_token(session, "slow@example.com")
    clock.advance(timedelta(minutes=59))
    assert (await client.get(f"/account/reset/{raw}")).status_code == 200
    clock.advance(timedelta(minutes=2))
    assert (await client.get(f"/account/reset/{raw}")).status_code == 410
    r = await client.post(
        f"/account/reset/{raw}", data=form(client, new_password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    )
    assert r.status_code == 410


async def test_a_new_link_or_a_password_change_invalidates_earlier_links(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any
) -> None:
    user = await user_factory(email="twice@example.com")
    await session.commit()
    await ask_reset(client, "twice@example.com")
    first = await latest_token(session, "twice@example.com")
    await ask_reset(client, "twice@example.com")
    second = await latest_token(session, "twice@example.com")
    assert first != second
    assert (await client.get(f"/account/reset/{first}")).status_code == 410
    assert (await client.get(f"/account/reset/{second}")).status_code == 200

    # changing the password (logged in) kills the outstanding link too
    await login_as(client, session, user)
    await session.commit()
    r = await client.post(
        "/account/password",
        data=form(client, current_password=PASSWORD, new_password=NEW_PASSWORD, confirm=NEW_PASSWORD),
    )
    assert r.status_code == 303
    assert (await client.get(f"/account/reset/{second}")).status_code == 410


async def test_requests_are_limited_per_email_and_per_ip_without_revealing_accounts(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any, settings: Settings
) -> None:
    await user_factory(email="popular@example.com")
    await session.commit()
    limit = settings.password_reset_max_per_hour
    known = [(await ask_reset(client, "popular@example.com")).status_code for _ in range(limit + 1)]
    unknown = [(await ask_reset(client, "nobody@example.com")).status_code for _ in range(limit + 1)]
    assert known == unknown == [303] * limit + [429]
    assert len(await emails_to(session, "popular@example.com")) == limit  # no mail bomb
    # an hour later the email may ask again
    clock.advance(timedelta(minutes=61))
    assert (await ask_reset(client, "popular@example.com")).status_code == 303

    # per IP: many different addresses from one address are stopped too
    clock.advance(timedelta(minutes=61))
    codes = [
        (await ask_reset(client, f"spray{i}@example.com")).status_code
        for i in range(settings.password_reset_max_per_ip_hour + 1)
    ]
    assert codes == [303] * settings.password_reset_max_per_ip_hour + [429]


async def test_the_api_flow(client: httpx.AsyncClient, session: AsyncSession, user_factory: Any) -> None:
    user = await user_factory(email="api-reset@example.com")
    user_id = user.id
    await session.commit()
    for email in ("api-reset@example.com", "ghost@example.com"):
        r = await client.post("/api/v1/auth/password-reset", json={"email": email})
        assert r.status_code == 202 and r.content == b""
    raw = await latest_token(session, "api-reset@example.com")

    r = await client.post("/api/v1/auth/password-reset/confirm", json={"token": raw, "new_password": "short"})
    assert r.status_code == 422 and "new_password" in r.json()["fields"]
    r = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": "nope", "new_password": NEW_PASSWORD}
    )
    assert r.status_code == 422 and r.json()["error"] == "reset_token_invalid"
    r = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": raw, "new_password": NEW_PASSWORD}
    )
    assert r.status_code == 204
    r = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": raw, "new_password": NEW_PASSWORD}
    )
    assert r.status_code == 422 and r.json()["error"] == "reset_token_invalid"
    r = await client.post(
        "/api/v1/auth/tokens", json={"email": "api-reset@example.com", "password": NEW_PASSWORD}
    )
    assert r.status_code == 201
    used = await session.scalar(
        select(func.count()).select_from(PasswordResetToken).where(PasswordResetToken.user_id == user_id)
    )
    assert used == 0  # every reset token of the account is gone after the reset


async def test_reset_links_never_reach_the_access_log(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any, caplog: Any
) -> None:
    """uvicorn's access log line is ``'%s - "%s %s HTTP/%s" %d'`` with the path as an argument."""
    await user_factory(email="logged@example.com")
    await session.commit()
    with caplog.at_level(logging.INFO):
        await ask_reset(client, "logged@example.com")
        raw = await latest_token(session, "logged@example.com")
        await client.get(f"/account/reset/{raw}")
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/account/reset/{raw}?x=1", "1.1", 200
        )
        logging.getLogger("souk").error("unhandled error on %s %s", "POST", f"/account/reset/{raw}")
    # (the test's own HTTP client logs the URLs it requests: that is this test, not the server)
    server = [r for r in caplog.records if not r.name.startswith("httpx")]
    assert server, "nothing was logged"
    assert all(raw not in record.getMessage() for record in server)
    assert any('"GET /account/reset/…?x=1 HTTP/1.1"' in r.getMessage() for r in caplog.records)
    assert any(r.getMessage() == "unhandled error on POST /account/reset/…" for r in caplog.records)
