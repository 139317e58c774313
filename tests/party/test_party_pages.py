from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from fixtures.core import form, login_as
from fixtures.party import pdf_bytes, png_bytes
from souk.kit.clock import utcnow
from souk.models import Invitation, Membership, Organization, OrganizationDocument

ORG_FIELDS = {
    "legal_name": "Ningbo Harbour Tools Co.",
    "registration_number": "NB-2024-77",
    "country": "CN",
    "address": "5 Port Road, Ningbo",
}


async def roles(session, org_id: int) -> dict[int, str]:
    rows = await session.execute(
        select(Membership.user_id, Membership.role).where(Membership.organization_id == org_id)
    )
    return {user_id: role for user_id, role in rows}


class TestRegisterBusiness:
    async def test_register_with_a_document(self, client, session, user_factory):
        me = await user_factory(display_name="Zhang Min")
        await login_as(client, session, me)
        page = await client.get("/seller/organizations/new")
        assert page.status_code == 200 and "Register business" in page.text
        r = await client.post(
            "/seller/organizations/new",
            data=form(client, **ORG_FIELDS),
            files={"document": ("certificate.pdf", pdf_bytes(), "application/pdf")},
        )
        org = await session.scalar(
            select(Organization).where(Organization.registration_number == "NB-2024-77")
        )
        assert org is not None and org.status == "pending_review"
        assert r.status_code == 303 and r.headers["location"] == f"/seller/organizations/{org.id}"
        assert await roles(session, org.id) == {me.id: "owner"}
        page = await client.get(r.headers["location"])
        assert "Ningbo Harbour Tools Co. registered" in page.text
        assert "Pending review" in page.text and "certificate.pdf" in page.text and "Zhang Min" in page.text
        doc = await session.scalar(
            select(OrganizationDocument).where(OrganizationDocument.organization_id == org.id)
        )
        assert doc is not None
        assert f'href="/seller/organizations/{org.id}/documents/{doc.id}"' in page.text
        assert f'href="/seller/stores/new?organization_id={org.id}"' in page.text
        dashboard = await client.get("/seller")
        assert "Ningbo Harbour Tools Co." in dashboard.text and "checking your documents" in dashboard.text

    async def test_errors_keep_values(self, client, session, user_factory, organization_factory):
        await organization_factory(registration_number="NB-2024-77", country="CN")
        await login_as(client, session, await user_factory())
        await session.commit()
        r = await client.post("/seller/organizations/new", data=form(client, **{**ORG_FIELDS, "country": ""}))
        assert (
            r.status_code == 422
            and 'id="e-country"' in r.text
            and 'value="Ningbo Harbour Tools Co."' in r.text
        )
        r = await client.post("/seller/organizations/new", data=form(client, **ORG_FIELDS))
        assert r.status_code == 409 and 'id="e-registration_number"' in r.text
        assert "is already registered in this country" in r.text
        r = await client.post(
            "/seller/organizations/new",
            data=form(client, **{**ORG_FIELDS, "registration_number": "NEW-1"}),
            files={"document": ("virus.exe", b"MZ\x90\x00binary", "application/octet-stream")},
        )
        assert r.status_code == 422 and 'id="e-document"' in r.text
        count = await session.scalar(
            select(Organization.id).where(Organization.registration_number == "NEW-1")
        )
        assert count is None

    async def test_rejected_business_sees_reason_and_resubmits(
        self, client, session, user_factory, organization_factory
    ):
        me = await user_factory()
        org = await organization_factory(
            owner=me, status="rejected", review_reason="The licence scan is cut off"
        )
        org_id = org.id
        await login_as(client, session, me)
        await session.commit()
        dashboard = await client.get("/seller")
        assert "Reason: The licence scan is cut off" in dashboard.text
        page = await client.get(f"/seller/organizations/{org_id}")
        assert "The licence scan is cut off" in page.text and "Send for review again" in page.text
        r = await client.post(
            f"/seller/organizations/{org_id}/documents",
            data=form(client, kind="registration"),
            files={"document": ("full-scan.png", png_bytes(), "image/png")},
        )
        assert r.status_code == 303
        r = await client.post(f"/seller/organizations/{org_id}/submit", data=form(client))
        assert r.status_code == 303
        await session.refresh(org)
        assert org.status == "pending_review"


class TestTeam:
    async def test_invite_then_accept_from_the_dashboard(
        self, client, session, user_factory, organization_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, legal_name="Delta Parts Ltd")
        org_id = org.id
        invitee = await user_factory(email="sam@example.com")
        invitee_id = invitee.id
        await login_as(client, session, owner)
        await session.commit()
        r = await client.post(
            f"/seller/organizations/{org_id}/invitations",
            data=form(client, email="Sam@example.com", role="admin"),
        )
        assert r.status_code == 303
        page = await client.get(f"/seller/organizations/{org_id}")
        assert "Invitation sent to sam@example.com" in page.text and "sam@example.com as admin" in page.text

        r = await client.post(
            f"/seller/organizations/{org_id}/invitations",
            data=form(client, email="not an email", role="staff"),
        )
        assert r.status_code == 422 and 'id="e-email"' in r.text

        await session.refresh(invitee)
        await login_as(client, session, invitee)
        dashboard = await client.get("/seller")
        assert "Invitations for you" in dashboard.text and "Delta Parts Ltd" in dashboard.text
        invitation = await session.scalar(select(Invitation).where(Invitation.email == "sam@example.com"))
        assert invitation is not None
        r = await client.post(f"/seller/invitations/{invitation.id}/accept", data=form(client))
        assert r.status_code == 303 and r.headers["location"] == f"/seller/organizations/{org_id}"
        assert (await roles(session, org_id))[invitee_id] == "admin"
        assert "Invitations for you" not in (await client.get("/seller")).text

    async def test_decline_from_the_dashboard(self, client, session, user_factory, organization_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        invitee = await user_factory(email="no-thanks@example.com")
        invitation = Invitation(
            organization_id=org.id,
            email="no-thanks@example.com",
            role="staff",
            invited_by_id=owner.id,
            expires_at=utcnow() + timedelta(days=14),
        )
        session.add(invitation)
        await session.flush()
        await login_as(client, session, invitee)
        r = await client.post(f"/seller/invitations/{invitation.id}/decline", data=form(client))
        assert r.status_code == 303 and r.headers["location"] == "/seller"
        assert invitation.declined_at is not None
        assert invitee.id not in await roles(session, org.id)

    async def test_role_change_remove_and_last_owner(
        self, client, session, user_factory, organization_factory, member_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        staff = await member_factory(org, "staff", display_name="Pat")
        org_id, owner_id, staff_id = org.id, owner.id, staff.id
        await login_as(client, session, owner)
        await session.commit()
        page = await client.get(f"/seller/organizations/{org_id}")
        assert f'action="/seller/organizations/{org_id}/members/{staff_id}/role"' in page.text
        r = await client.post(
            f"/seller/organizations/{org_id}/members/{staff_id}/role", data=form(client, role="admin")
        )
        assert r.status_code == 303
        assert (await roles(session, org_id))[staff_id] == "admin"
        r = await client.post(
            f"/seller/organizations/{org_id}/members/{owner_id}/role", data=form(client, role="staff")
        )
        assert r.status_code == 409 and "An organisation always needs an owner" in r.text
        r = await client.post(f"/seller/organizations/{org_id}/members/{staff_id}/remove", data=form(client))
        assert r.status_code == 303
        assert await roles(session, org_id) == {owner_id: "owner"}

    async def test_staff_sees_no_management_and_gets_403(
        self, client, session, user_factory, organization_factory, member_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        staff = await member_factory(org, "staff")
        org_id, owner_id, staff_id = org.id, owner.id, staff.id
        await login_as(client, session, staff)
        await session.commit()
        page = await client.get(f"/seller/organizations/{org_id}")
        assert page.status_code == 200
        assert (
            "Send invitation" not in page.text
            and "Change role" not in page.text
            and "Leave organisation" in page.text
        )
        r = await client.post(
            f"/seller/organizations/{org_id}/members/{owner_id}/role", data=form(client, role="staff")
        )
        assert r.status_code == 403 and "does not allow org:members" in r.text
        r = await client.post(
            f"/seller/organizations/{org_id}/invitations",
            data=form(client, email="x@example.com", role="staff"),
        )
        assert r.status_code == 403
        assert await roles(session, org_id) == {owner_id: "owner", staff_id: "staff"}
        assert (await session.scalar(select(Invitation).where(Invitation.organization_id == org_id))) is None

    async def test_csrf_missing_is_403(self, client, session, user_factory, organization_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        org_id = org.id
        await login_as(client, session, owner)
        await session.commit()
        r = await client.post(
            f"/seller/organizations/{org_id}/invitations", data={"email": "x@example.com", "role": "staff"}
        )
        assert r.status_code == 403 and "Reload the page" in r.text
        assert (await session.scalar(select(Invitation).where(Invitation.organization_id == org_id))) is None


class TestDocuments:
    async def test_only_members_and_operators_download(
        self, client, session, user_factory, operator_factory, organization_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        stranger = await user_factory()
        operator = await operator_factory()
        org_id = org.id
        await login_as(client, session, owner)
        await session.commit()
        await client.post(
            f"/seller/organizations/{org_id}/documents",
            data=form(client, kind="registration"),
            files={"document": ("reg.pdf", pdf_bytes(), "application/pdf")},
        )
        doc = await session.scalar(
            select(OrganizationDocument).where(OrganizationDocument.organization_id == org_id)
        )
        assert doc is not None
        url = f"/seller/organizations/{org_id}/documents/{doc.id}"
        r = await client.get(url)
        assert (
            r.status_code == 200
            and r.headers["content-type"] == "application/pdf"
            and r.content.startswith(b"%PDF-")
        )
        await login_as(client, session, stranger)
        await session.commit()
        r = await client.get(url)
        assert r.status_code == 404 and "Page not found" in r.text
        await session.refresh(operator)
        await login_as(client, session, operator)
        assert (await client.get(url)).status_code == 200
        assert (await client.get(f"/ops/organizations/{org_id}/documents/{doc.id}")).status_code == 200
