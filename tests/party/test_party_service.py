from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from fixtures.factories import actor_of
from fixtures.party import pdf_bytes, png_bytes
from souk.auth.actor import Actor
from souk.errors import Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, Unauthenticated
from souk.kit.clock import clock
from souk.models import Invitation, Membership, Organization, OrganizationDocument
from souk.party.schemas import InvitationCreate, OrganizationCreate, OrganizationUpdate, RoleChange, UploadIn
from souk.party.service import party_service


def org_payload(**kw: object) -> OrganizationCreate:
    data: dict[str, object] = {
        "legal_name": "Hangzhou Lantern Works Co., Ltd.",
        "registration_number": "91330100 MA27",
        "country": "CN",
        "address": "18 West Lake Road, Hangzhou",
    }
    data.update(kw)
    return OrganizationCreate.model_validate(data)


async def roles(session, org_id: int) -> dict[int, str]:
    rows = await session.execute(
        select(Membership.user_id, Membership.role).where(Membership.organization_id == org_id)
    )
    return {user_id: role for user_id, role in rows}


class TestCreateOrganisation:
    async def test_creator_becomes_owner_and_it_waits_for_review(self, session, user_factory, app):
        user = await user_factory()
        org = await party_service.create_organization(
            session,
            actor_of(user),
            org_payload(),
            storage=app.state.storage,
            registration_document=UploadIn(pdf_bytes(), "licence.pdf"),
        )
        assert org.status == "pending_review"
        assert org.registration_number == "91330100 MA27"
        assert await roles(session, org.id) == {user.id: "owner"}
        doc = await session.scalar(
            select(OrganizationDocument).where(OrganizationDocument.organization_id == org.id)
        )
        assert doc is not None and doc.kind == "registration" and doc.filename == "licence.pdf"
        path = app.state.storage.private_file(doc.path)
        assert path.is_file() and path.read_bytes().startswith(b"%PDF-")
        assert not app.state.storage.absolute(doc.path).exists()  # never under the public folder

    async def test_registration_number_unique_per_country(self, session, user_factory):
        await party_service.create_organization(session, actor_of(await user_factory()), org_payload())
        with pytest.raises(Conflict) as err:
            await party_service.create_organization(
                session, actor_of(await user_factory()), org_payload(registration_number=" 91330100   ma27 ")
            )
        assert err.value.code == "registration_taken" and "registration_number" in err.value.fields
        other_country = await party_service.create_organization(
            session, actor_of(await user_factory()), org_payload(country="VN")
        )
        assert other_country.country == "VN"

    async def test_input_problems_name_the_field(self):
        for field, value in [
            ("country", "ZZ"),
            ("legal_name", "  "),
            ("address", ""),
            ("registration_number", ""),
        ]:
            with pytest.raises(ValidationError) as err:
                org_payload(**{field: value})
            assert err.value.errors()[0]["loc"] == (field,)

    async def test_read_only_token_cannot_create(self, session, user_factory):
        user = await user_factory()
        with pytest.raises(Forbidden) as err:
            await party_service.create_organization(
                session, Actor(user_id=user.id, scopes=frozenset({"read"})), org_payload()
            )
        assert err.value.code == "token_read_only"

    async def test_anonymous_cannot_create(self, session):
        with pytest.raises(Unauthenticated):
            await party_service.create_organization(session, Actor(), org_payload())


class TestUpdateOrganisation:
    async def test_pending_organisation_can_be_corrected(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="rejected", review_reason="Wrong number")
        updated = await party_service.update_organization(
            session,
            actor_of(owner),
            org.id,
            OrganizationUpdate(registration_number="new-123", address="2 New St"),
        )
        assert updated.registration_number == "NEW-123" and updated.address == "2 New St"
        submitted = await party_service.submit_organization(session, actor_of(owner), org.id)
        assert submitted.status == "pending_review" and submitted.review_reason is None

    async def test_verified_legal_details_are_fixed_but_address_is_not(
        self, session, organization_factory, user_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="approved")
        with pytest.raises(Conflict) as err:
            await party_service.update_organization(
                session, actor_of(owner), org.id, OrganizationUpdate(legal_name="Another Name Ltd")
            )
        assert err.value.code == "organization_verified" and "legal_name" in err.value.fields
        same = await party_service.update_organization(
            session,
            actor_of(owner),
            org.id,
            OrganizationUpdate(legal_name=org.legal_name, address="9 Harbour Road"),
        )
        assert same.address == "9 Harbour Road"

    async def test_taken_registration_is_409(self, session, organization_factory, user_factory):
        owner = await user_factory()
        taken = await organization_factory(country="CN")
        org = await organization_factory(owner=owner, status="pending_review", country="CN")
        with pytest.raises(Conflict):
            await party_service.update_organization(
                session,
                actor_of(owner),
                org.id,
                OrganizationUpdate(registration_number=taken.registration_number),
            )

    async def test_submit_only_when_rejected(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="pending_review")
        with pytest.raises(Conflict):
            await party_service.submit_organization(session, actor_of(owner), org.id)

    async def test_staff_cannot_edit_and_strangers_get_404(
        self, session, organization_factory, member_factory, user_factory
    ):
        org = await organization_factory(status="pending_review")
        staff = await member_factory(org, "staff")
        with pytest.raises(Forbidden):
            await party_service.update_organization(
                session, actor_of(staff), org.id, OrganizationUpdate(address="x")
            )
        with pytest.raises(NotFound):
            await party_service.get_organization(session, actor_of(await user_factory()), org.id)

    async def test_list_mine_pages_newest_first(self, session, organization_factory, user_factory):
        me = await user_factory()
        ids = [(await organization_factory(owner=me)).id for _ in range(3)]
        await organization_factory()  # not mine
        first = await party_service.list_mine(session, actor_of(me), limit=2)
        second = await party_service.list_mine(session, actor_of(me), cursor=first.next_cursor, limit=2)
        assert [o.id for o in first.items] == [ids[2], ids[1]]
        assert [o.id for o in second.items] == [ids[0]] and second.next_cursor is None


class TestDocuments:
    async def test_upload_checks_content_and_kind(self, session, organization_factory, user_factory, app):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        storage = app.state.storage
        doc = await party_service.upload_document(
            session,
            actor_of(owner),
            storage,
            org.id,
            kind="registration",
            upload=UploadIn(png_bytes(), "scan.png"),
        )
        assert doc.content_type == "image/png" and doc.size_bytes > 0
        with pytest.raises(Invalid) as err:
            await party_service.upload_document(
                session,
                actor_of(owner),
                storage,
                org.id,
                kind="registration",
                upload=UploadIn(b"MZ\x90\x00", "x.exe"),
            )
        assert "file" in err.value.fields
        with pytest.raises(Invalid) as err:
            await party_service.upload_document(
                session,
                actor_of(owner),
                storage,
                org.id,
                kind="passport",
                upload=UploadIn(pdf_bytes(), "p.pdf"),
            )
        assert "kind" in err.value.fields
        with pytest.raises(PayloadTooLarge):
            await party_service.upload_document(
                session,
                actor_of(owner),
                storage,
                org.id,
                kind="other",
                upload=UploadIn(b"%PDF-" + b"0" * storage.max_bytes, "big.pdf"),
            )
        assert [d.id for d in await party_service.list_documents(session, actor_of(owner), org.id)] == [
            doc.id
        ]

    async def test_brand_authorisation_must_name_a_mall_store_of_the_organisation(
        self, session, organization_factory, store_factory, user_factory, app
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        sourcing = await store_factory(trade_model="sourcing", organization=org)
        foreign_mall = await store_factory(trade_model="mall", brand_name="X")
        upload = UploadIn(pdf_bytes(), "auth.pdf")
        for store_id, field in [(None, "store_id"), (sourcing.id, "store_id"), (foreign_mall.id, "store_id")]:
            with pytest.raises(Invalid) as err:
                await party_service.upload_document(
                    session,
                    actor_of(owner),
                    app.state.storage,
                    org.id,
                    kind="brand_authorization",
                    upload=upload,
                    store_id=store_id,
                )
            assert field in err.value.fields

    async def test_only_members_and_operators_read_documents(
        self, session, organization_factory, member_factory, user_factory, operator_factory, app
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        storage = app.state.storage
        doc = await party_service.upload_document(
            session,
            actor_of(owner),
            storage,
            org.id,
            kind="registration",
            upload=UploadIn(pdf_bytes(), "reg.pdf"),
        )
        staff = await member_factory(org, "staff")
        found, path = await party_service.document_file(session, actor_of(staff), storage, org.id, doc.id)
        assert found.id == doc.id and path.read_bytes().startswith(b"%PDF-")
        operator = await operator_factory()
        assert (await party_service.document_file(session, actor_of(operator), storage, org.id, doc.id))[
            0
        ].id == doc.id
        with pytest.raises(NotFound):
            await party_service.document_file(
                session, actor_of(await user_factory()), storage, org.id, doc.id
            )
        other = await organization_factory(owner=owner)
        with pytest.raises(NotFound):  # the document belongs to another organisation
            await party_service.document_file(session, actor_of(owner), storage, other.id, doc.id)

    async def test_staff_cannot_upload(self, session, organization_factory, member_factory, app):
        org = await organization_factory()
        staff = await member_factory(org, "staff")
        with pytest.raises(Forbidden):
            await party_service.upload_document(
                session,
                actor_of(staff),
                app.state.storage,
                org.id,
                kind="other",
                upload=UploadIn(pdf_bytes(), "a.pdf"),
            )


class TestMembers:
    async def test_owner_promotes_and_demotes(
        self, session, organization_factory, member_factory, user_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        staff = await member_factory(org, "staff")
        member = await party_service.change_role(
            session, actor_of(owner), org.id, staff.id, RoleChange(role="owner")
        )
        assert member.role == "owner"
        # now two owners: the first may step down
        await party_service.change_role(session, actor_of(owner), org.id, owner.id, RoleChange(role="admin"))
        assert await roles(session, org.id) == {owner.id: "admin", staff.id: "owner"}

    async def test_last_owner_cannot_be_demoted_or_removed(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        with pytest.raises(Conflict) as err:
            await party_service.change_role(
                session, actor_of(owner), org.id, owner.id, RoleChange(role="admin")
            )
        assert err.value.code == "last_owner"
        with pytest.raises(Conflict) as err:
            await party_service.remove_member(session, actor_of(owner), org.id, owner.id)
        assert err.value.code == "last_owner"
        assert await roles(session, org.id) == {owner.id: "owner"}

    async def test_only_owners_grant_or_remove_the_owner_role(
        self, session, organization_factory, member_factory, user_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        admin = await member_factory(org, "admin")
        staff = await member_factory(org, "staff")
        with pytest.raises(Forbidden) as err:
            await party_service.change_role(
                session, actor_of(admin), org.id, staff.id, RoleChange(role="owner")
            )
        assert err.value.code == "owner_only"
        with pytest.raises(Forbidden):
            await party_service.change_role(
                session, actor_of(admin), org.id, owner.id, RoleChange(role="staff")
            )
        with pytest.raises(Forbidden):
            await party_service.remove_member(session, actor_of(admin), org.id, owner.id)
        # an admin manages the others
        assert (
            await party_service.change_role(
                session, actor_of(admin), org.id, staff.id, RoleChange(role="admin")
            )
        ).role == "admin"

    async def test_staff_cannot_manage_members_but_can_leave(
        self, session, organization_factory, member_factory, user_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        staff = await member_factory(org, "staff")
        other = await member_factory(org, "staff")
        with pytest.raises(Forbidden):
            await party_service.change_role(
                session, actor_of(staff), org.id, other.id, RoleChange(role="admin")
            )
        with pytest.raises(Forbidden):
            await party_service.remove_member(session, actor_of(staff), org.id, other.id)
        with pytest.raises(Forbidden):
            await party_service.invite(
                session, actor_of(staff), org.id, InvitationCreate(email="x@example.com")
            )
        await party_service.remove_member(session, actor_of(staff), org.id, staff.id)
        assert await roles(session, org.id) == {owner.id: "owner", other.id: "staff"}

    async def test_unknown_member_is_404(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        stranger = await user_factory()
        with pytest.raises(NotFound):
            await party_service.change_role(
                session, actor_of(owner), org.id, stranger.id, RoleChange(role="staff")
            )

    async def test_members_list(self, session, organization_factory, member_factory, user_factory):
        owner = await user_factory(display_name="Li Wei")
        org = await organization_factory(owner=owner)
        await member_factory(org, "staff", display_name="Ana")
        members = await party_service.list_members(session, actor_of(owner), org.id)
        assert [(m.display_name, m.role) for m in members] == [("Li Wei", "owner"), ("Ana", "staff")]


class TestInvitations:
    async def test_invite_accept(self, session, organization_factory, user_factory):
        owner = await user_factory(display_name="Owner")
        org = await organization_factory(owner=owner)
        invited = await party_service.invite(
            session, actor_of(owner), org.id, InvitationCreate(email="Buyer.Bee@Example.com", role="admin")
        )
        assert invited.status == "pending" and invited.email == "buyer.bee@example.com"
        assert invited.expires_at - invited.created_at == timedelta(days=14)
        bee = await user_factory(email="buyer.bee@example.com")
        mine = await party_service.my_invitations(session, actor_of(bee))
        assert [(i.id, i.organization_name, i.invited_by_name) for i in mine] == [
            (invited.id, org.legal_name, "Owner")
        ]
        member = await party_service.accept_invitation(session, actor_of(bee), invited.id)
        assert member.role == "admin" and member.user_id == bee.id
        assert (await roles(session, org.id))[bee.id] == "admin"
        assert await party_service.my_invitations(session, actor_of(bee)) == []
        with pytest.raises(Conflict):
            await party_service.accept_invitation(session, actor_of(bee), invited.id)

    async def test_decline(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        inv = await party_service.invite(
            session, actor_of(owner), org.id, InvitationCreate(email="no@example.com")
        )
        declining = await user_factory(email="no@example.com")
        declined = await party_service.decline_invitation(session, actor_of(declining), inv.id)
        assert declined.status == "declined"
        assert declining.id not in await roles(session, org.id)
        listed = await party_service.list_invitations(session, actor_of(owner), org.id)
        assert [(i.id, i.status) for i in listed] == [(inv.id, "declined")]

    async def test_someone_else_cannot_accept(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        inv = await party_service.invite(
            session, actor_of(owner), org.id, InvitationCreate(email="right@example.com")
        )
        with pytest.raises(NotFound):
            await party_service.accept_invitation(session, actor_of(await user_factory()), inv.id)

    async def test_expired_invitation_cannot_be_accepted(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        inv = await party_service.invite(
            session, actor_of(owner), org.id, InvitationCreate(email="late@example.com")
        )
        late = await user_factory(email="late@example.com")
        clock.advance(timedelta(days=15))
        assert await party_service.my_invitations(session, actor_of(late)) == []
        with pytest.raises(Conflict) as err:
            await party_service.accept_invitation(session, actor_of(late), inv.id)
        assert err.value.code == "invitation_expired"
        invitation = await session.get(Invitation, inv.id)
        assert invitation is not None and invitation.accepted_at is None

    async def test_invite_rules(self, session, organization_factory, member_factory, user_factory):
        owner = await user_factory(email="boss@example.com")
        org = await organization_factory(owner=owner)
        admin = await member_factory(org, "admin")
        with pytest.raises(Forbidden):
            await party_service.invite(
                session, actor_of(admin), org.id, InvitationCreate(email="a@example.com", role="owner")
            )
        with pytest.raises(Conflict) as err:
            await party_service.invite(
                session, actor_of(admin), org.id, InvitationCreate(email="BOSS@example.com")
            )
        assert err.value.code == "already_member"
        await party_service.invite(
            session, actor_of(admin), org.id, InvitationCreate(email="new@example.com")
        )
        with pytest.raises(Conflict) as err:
            await party_service.invite(
                session, actor_of(admin), org.id, InvitationCreate(email="new@example.com")
            )
        assert err.value.code == "invitation_pending"
        with pytest.raises(ValidationError):
            InvitationCreate.model_validate({"email": "not-an-email", "role": "staff"})

    async def test_revoke(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        inv = await party_service.invite(
            session, actor_of(owner), org.id, InvitationCreate(email="r@example.com")
        )
        await party_service.revoke_invitation(session, actor_of(owner), org.id, inv.id)
        invitee = await user_factory(email="r@example.com")
        with pytest.raises(Conflict) as err:
            await party_service.accept_invitation(session, actor_of(invitee), inv.id)
        assert err.value.code == "invitation_closed"
        with pytest.raises(Conflict):
            await party_service.revoke_invitation(session, actor_of(owner), org.id, inv.id)

    async def test_organisation_keeps_its_status(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="approved")
        inv = await party_service.invite(
            session, actor_of(owner), org.id, InvitationCreate(email="s@example.com")
        )
        staff = await user_factory(email="s@example.com")
        await party_service.accept_invitation(session, actor_of(staff), inv.id)
        assert (await session.get(Organization, org.id)).status == "approved"  # type: ignore[union-attr]
