from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import select

from fixtures.core import api_token_for
from fixtures.party import pdf_bytes, png_bytes
from souk.models import Membership

ORG = {
    "legal_name": "Shenzhen Bright Lights Ltd",
    "registration_number": "SZ-4411",
    "country": "CN",
    "address": "1 Tech Park, Shenzhen",
}


async def create_org(client: httpx.AsyncClient, headers: dict[str, str], **kw: object) -> dict:
    r = await client.post("/api/v1/organizations", json={**ORG, **kw}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


class TestOrganisations:
    async def test_create_read_update(self, client, session, user_factory):
        headers = await api_token_for(session, await user_factory())
        await session.commit()
        org = await create_org(client, headers)
        assert org["status"] == "pending_review" and org["registration_number"] == "SZ-4411"
        assert org["review_reason"] is None

        r = await client.get(f"/api/v1/organizations/{org['id']}", headers=headers)
        assert r.status_code == 200 and r.json()["legal_name"] == ORG["legal_name"]

        r = await client.patch(
            f"/api/v1/organizations/{org['id']}", json={"address": "2 Tech Park"}, headers=headers
        )
        assert r.status_code == 200 and r.json()["address"] == "2 Tech Park"

        r = await client.get("/api/v1/organizations", headers=headers)
        assert [o["id"] for o in r.json()["items"]] == [org["id"]] and r.json()["next_cursor"] is None

    async def test_bad_input_names_the_field(self, client, session, user_factory):
        headers = await api_token_for(session, await user_factory())
        await session.commit()
        for change, field in [({"country": "XX"}, "country"), ({"legal_name": " "}, "legal_name")]:
            r = await client.post("/api/v1/organizations", json={**ORG, **change}, headers=headers)
            assert r.status_code == 422 and field in r.json()["fields"]
        r = await client.post("/api/v1/organizations", json={**ORG, "extra": 1}, headers=headers)
        assert r.status_code == 422 and "extra" in r.json()["fields"]

    async def test_registration_number_already_used_is_409(self, client, session, user_factory):
        headers = await api_token_for(session, await user_factory())
        other = await api_token_for(session, await user_factory())
        await session.commit()
        await create_org(client, headers)
        r = await client.post("/api/v1/organizations", json={**ORG, "legal_name": "Copycat"}, headers=other)
        assert r.status_code == 409
        assert r.json()["error"] == "registration_taken" and "registration_number" in r.json()["fields"]

    async def test_strangers_get_404_and_anonymous_401(
        self, client, session, user_factory, organization_factory
    ):
        org = await organization_factory()
        org_id = org.id
        headers = await api_token_for(session, await user_factory())
        await session.commit()
        assert (await client.get(f"/api/v1/organizations/{org_id}", headers=headers)).status_code == 404
        r = await client.patch(f"/api/v1/organizations/{org_id}", json={"address": "x"}, headers=headers)
        assert r.status_code == 404
        assert (await client.get("/api/v1/organizations")).status_code == 401

    async def test_read_only_token_cannot_write(self, client, session, user_factory):
        headers = await api_token_for(session, await user_factory(), scopes="read")
        await session.commit()
        r = await client.post("/api/v1/organizations", json=ORG, headers=headers)
        assert r.status_code == 403 and r.json()["error"] == "token_read_only"


class TestDocuments:
    async def test_upload_list_and_download(
        self, client, session, user_factory, operator_factory, member_factory, organization_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="pending_review")
        org_id = org.id
        staff = await member_factory(org, "staff")
        headers = await api_token_for(session, owner)
        staff_headers = await api_token_for(session, staff)
        stranger = await api_token_for(session, await user_factory())
        operator = await api_token_for(session, await operator_factory())
        await session.commit()

        png = png_bytes(120, 80)
        r = await client.post(
            f"/api/v1/organizations/{org_id}/documents",
            files={"file": ("licence.png", png, "image/png")},
            data={"kind": "registration"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        doc = r.json()
        assert (doc["kind"], doc["filename"], doc["content_type"], doc["size_bytes"]) == (
            "registration",
            "licence.png",
            "image/png",
            len(png),
        )
        url = doc["download_url"]
        assert url == f"/api/v1/organizations/{org_id}/documents/{doc['id']}/file"

        listed = await client.get(f"/api/v1/organizations/{org_id}/documents", headers=staff_headers)
        assert [d["id"] for d in listed.json()] == [doc["id"]]

        for who in (headers, staff_headers, operator):
            r = await client.get(url, headers=who)
            assert r.status_code == 200 and r.content == png
            assert r.headers["content-type"] == "image/png"
            assert r.headers["content-security-policy"] == "sandbox"
        assert (await client.get(url, headers=stranger)).status_code == 404
        assert (
            await client.get(f"/api/v1/organizations/{org_id}/documents", headers=stranger)
        ).status_code == 404
        # never reachable as a public media file
        assert "private" not in url and (await client.get(f"/media/{doc['id']}")).status_code == 404

    async def test_bad_uploads(
        self, client, session, user_factory, organization_factory, member_factory, settings
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        org_id = org.id
        staff = await api_token_for(session, await member_factory(org, "staff"))
        headers = await api_token_for(session, owner)
        await session.commit()
        url = f"/api/v1/organizations/{org_id}/documents"

        r = await client.post(
            url, files={"file": ("a.txt", b"hello", "text/plain")}, data={"kind": "other"}, headers=headers
        )
        assert r.status_code == 422 and "file" in r.json()["fields"]
        r = await client.post(
            url,
            files={"file": ("a.pdf", pdf_bytes(), "application/pdf")},
            data={"kind": "visa"},
            headers=headers,
        )
        assert r.status_code == 422 and "kind" in r.json()["fields"]
        r = await client.post(
            url,
            files={"file": ("a.pdf", pdf_bytes(), "application/pdf")},
            data={"kind": "brand_authorization"},
            headers=headers,
        )
        assert r.status_code == 422 and "store_id" in r.json()["fields"]
        r = await client.post(
            url,
            files={"file": ("a.pdf", pdf_bytes(), "application/pdf")},
            data={"kind": "other"},
            headers=staff,
        )
        assert r.status_code == 403

        too_big = (
            b"%PDF-" + b"0" * settings.max_upload_bytes
        )  # over the per-file limit, under the request limit
        r = await client.post(
            url,
            files={"file": ("big.pdf", too_big, "application/pdf")},
            data={"kind": "other"},
            headers=headers,
        )
        assert r.status_code == 413 and r.json()["error"] == "file_too_large" and "file" in r.json()["fields"]
        listed = await client.get(f"/api/v1/organizations/{org_id}/documents", headers=headers)
        assert listed.json() == []

    async def test_fifty_megabyte_upload_is_413(self, client, session, user_factory, organization_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        org_id = org.id
        headers = await api_token_for(session, owner)
        await session.commit()
        url = f"/api/v1/organizations/{org_id}/documents"
        big = b"%PDF-" + b"0" * (50 * 1024 * 1024)

        # with a Content-Length: refused before the body is read
        r = await client.post(
            url, files={"file": ("big.pdf", big, "application/pdf")}, data={"kind": "other"}, headers=headers
        )
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

        # streamed without a Content-Length: refused when the file is read
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        async def body() -> AsyncIterator[bytes]:
            yield head
            for start in range(0, len(big), 1024 * 1024):
                yield big[start : start + 1024 * 1024]
            yield tail

        r = await client.post(
            url,
            content=body(),
            headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert r.status_code == 413 and r.json()["error"] == "file_too_large"


class TestMembersAndInvitations:
    async def test_invite_accept_and_manage(self, client, session, user_factory, organization_factory):
        owner = await user_factory(display_name="Owner")
        org = await organization_factory(owner=owner)
        org_id, owner_id = org.id, owner.id
        invitee = await user_factory(email="mei@example.com", display_name="Mei")
        invitee_id = invitee.id
        headers = await api_token_for(session, owner)
        mei = await api_token_for(session, invitee)
        await session.commit()

        r = await client.post(
            f"/api/v1/organizations/{org_id}/invitations",
            json={"email": "Mei@Example.com", "role": "staff"},
            headers=headers,
        )
        assert r.status_code == 201 and r.json()["status"] == "pending"
        invitation_id = r.json()["id"]
        listed = await client.get(f"/api/v1/organizations/{org_id}/invitations", headers=headers)
        assert [(i["email"], i["status"]) for i in listed.json()] == [("mei@example.com", "pending")]

        mine = await client.get("/api/v1/me/invitations", headers=mei)
        assert [(i["id"], i["organization_name"], i["role"]) for i in mine.json()] == [
            (invitation_id, org.legal_name, "staff")
        ]
        r = await client.post(f"/api/v1/invitations/{invitation_id}/accept", headers=mei)
        assert r.status_code == 200 and r.json()["role"] == "staff" and r.json()["display_name"] == "Mei"

        members = await client.get(f"/api/v1/organizations/{org_id}/members", headers=mei)
        assert [(m["user_id"], m["role"]) for m in members.json()] == [
            (owner_id, "owner"),
            (invitee_id, "staff"),
        ]

        # staff cannot manage members
        r = await client.patch(
            f"/api/v1/organizations/{org_id}/members/{owner_id}", json={"role": "staff"}, headers=mei
        )
        assert r.status_code == 403
        r = await client.post(
            f"/api/v1/organizations/{org_id}/invitations", json={"email": "z@example.com"}, headers=mei
        )
        assert r.status_code == 403

        # the owner promotes, then the last-owner rule holds
        r = await client.patch(
            f"/api/v1/organizations/{org_id}/members/{invitee_id}", json={"role": "admin"}, headers=headers
        )
        assert r.status_code == 200 and r.json()["role"] == "admin"
        r = await client.patch(
            f"/api/v1/organizations/{org_id}/members/{owner_id}", json={"role": "admin"}, headers=headers
        )
        assert r.status_code == 409 and r.json()["error"] == "last_owner"
        r = await client.delete(f"/api/v1/organizations/{org_id}/members/{owner_id}", headers=headers)
        assert r.status_code == 409
        r = await client.patch(
            f"/api/v1/organizations/{org_id}/members/{invitee_id}", json={"role": "boss"}, headers=headers
        )
        assert r.status_code == 422 and "role" in r.json()["fields"]

        r = await client.delete(f"/api/v1/organizations/{org_id}/members/{invitee_id}", headers=headers)
        assert r.status_code == 204 and r.content == b""
        remaining = (
            await session.scalars(select(Membership.user_id).where(Membership.organization_id == org_id))
        ).all()
        assert remaining == [owner_id]

    async def test_decline_and_foreign_invitation(self, client, session, user_factory, organization_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        org_id = org.id
        headers = await api_token_for(session, owner)
        invitee = await api_token_for(session, await user_factory(email="kim@example.com"))
        other = await api_token_for(session, await user_factory())
        await session.commit()
        r = await client.post(
            f"/api/v1/organizations/{org_id}/invitations", json={"email": "kim@example.com"}, headers=headers
        )
        invitation_id = r.json()["id"]
        assert (
            await client.post(f"/api/v1/invitations/{invitation_id}/accept", headers=other)
        ).status_code == 404
        r = await client.post(f"/api/v1/invitations/{invitation_id}/decline", headers=invitee)
        assert r.status_code == 200 and r.json()["status"] == "declined"
        r = await client.post(f"/api/v1/invitations/{invitation_id}/accept", headers=invitee)
        assert r.status_code == 409 and r.json()["error"] == "invitation_closed"
        r = await client.post(
            f"/api/v1/organizations/{org_id}/invitations", json={"email": "bad"}, headers=headers
        )
        assert r.status_code == 422 and "email" in r.json()["fields"]

    async def test_revoke_invitation(self, client, session, user_factory, organization_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        org_id = org.id
        headers = await api_token_for(session, owner)
        await session.commit()
        r = await client.post(
            f"/api/v1/organizations/{org_id}/invitations", json={"email": "q@example.com"}, headers=headers
        )
        r = await client.delete(
            f"/api/v1/organizations/{org_id}/invitations/{r.json()['id']}", headers=headers
        )
        assert r.status_code == 204
        listed = await client.get(f"/api/v1/organizations/{org_id}/invitations", headers=headers)
        assert [i["status"] for i in listed.json()] == ["revoked"]

    async def test_resubmit_after_rejection(self, client, session, user_factory, organization_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="rejected", review_reason="Unreadable scan")
        org_id = org.id
        headers = await api_token_for(session, owner)
        await session.commit()
        r = await client.get(f"/api/v1/organizations/{org_id}", headers=headers)
        assert (r.json()["status"], r.json()["review_reason"]) == ("rejected", "Unreadable scan")
        r = await client.post(f"/api/v1/organizations/{org_id}/submit", headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "pending_review"
