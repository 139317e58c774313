"""All SQL of conversations: scoped statements, inbox pages, read marks. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from souk.auth.actor import Actor
from souk.authz import roles_with, store_ids
from souk.models import Conversation, Membership, Message, MessageAttachment, Store, User


@dataclass
class ConversationRow:
    """A conversation with the names its pages show and the viewer's relation to it."""

    conversation: Conversation
    store_name: str
    store_slug: str
    buyer_name: str
    is_buyer: bool = False
    is_seller: bool = False


def _unread_first(column: Any) -> Any:
    return case((column > 0, 1), else_=0)


def unread_total_query(actor: Actor) -> Select[int]:
    """The number of conversations with messages the actor has not read, as their buyer or as one of their
    store's people (each conversation counted once), as a statement another one can embed (the header's
    badge); the actor is a logged-in user."""
    return select(func.count()).where(
        or_(
            and_(Conversation.buyer_user_id == actor.user_id, Conversation.buyer_unread_count > 0),
            and_(
                Conversation.store_id.in_(store_ids(actor, "store:read")),
                Conversation.seller_unread_count > 0,
            ),
        )
    )


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _with_names(self) -> Select[Conversation, str, str, str]:
        return (
            select(Conversation, Store.name, Store.slug, User.display_name)
            .join(Store, Store.id == Conversation.store_id)
            .join(User, User.id == Conversation.buyer_user_id)
        )

    async def scoped(
        self, actor: Actor, conversation_id: int, *, store_id: int | None = None
    ) -> ConversationRow | None:
        """The conversation if the actor is its buyer or one of its store's people (``store:read``), with
        which of the two the actor is; None when out of scope."""
        if actor.user_id is None:
            return None
        is_buyer = Conversation.buyer_user_id == actor.user_id
        is_seller = Conversation.store_id.in_(store_ids(actor, "store:read"))
        stmt = (
            self._with_names()
            .add_columns(is_buyer.label("is_buyer"), is_seller.label("is_seller"))
            .where(Conversation.id == conversation_id, or_(is_buyer, is_seller))
        )
        if store_id is not None:
            stmt = stmt.where(Conversation.store_id == store_id)
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return None
        return ConversationRow(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]))

    async def find_subject(
        self, store_id: int, buyer_user_id: int, subject_type: str, subject_id: int | None
    ) -> Conversation | None:
        stmt = select(Conversation).where(
            Conversation.store_id == store_id,
            Conversation.buyer_user_id == buyer_user_id,
            Conversation.subject_type == subject_type,
            Conversation.subject_id.is_(None)
            if subject_id is None
            else Conversation.subject_id == subject_id,
        )
        return await self.session.scalar(stmt.order_by(Conversation.id).limit(1))

    async def names(self, conversation_id: int) -> tuple[str, str, str]:
        """(store name, store slug, buyer display name) of a conversation."""
        row = (
            await self.session.execute(
                select(Store.name, Store.slug, User.display_name)
                .join(Conversation, Conversation.store_id == Store.id)
                .join(User, User.id == Conversation.buyer_user_id)
                .where(Conversation.id == conversation_id)
            )
        ).one()
        return row[0], row[1], row[2]

    # --- inbox pages --------------------------------------------------------------------------------

    async def buyer_page(
        self,
        buyer_user_id: int,
        *,
        unread_only: bool,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> list[ConversationRow]:
        """The buyer's conversations, latest activity first (one row more than a page)."""
        stmt = self._with_names().where(Conversation.buyer_user_id == buyer_user_id)
        if unread_only:
            stmt = stmt.where(Conversation.buyer_unread_count > 0)
        if after is not None:
            at, last_id = after
            stmt = stmt.where(
                or_(
                    Conversation.last_message_at < at,
                    and_(Conversation.last_message_at == at, Conversation.id < last_id),
                )
            )
        stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit + 1)
        rows = (await self.session.execute(stmt)).all()
        return [ConversationRow(r[0], r[1], r[2], r[3], is_buyer=True) for r in rows]

    async def store_page(
        self,
        store_id: int,
        *,
        unread_only: bool,
        after: tuple[int, datetime, int] | None,
        limit: int,
    ) -> list[ConversationRow]:
        """A store's conversations: unread ones first, then latest activity first (one row more than a page)."""
        flag = _unread_first(Conversation.seller_unread_count)
        stmt = self._with_names().where(Conversation.store_id == store_id)
        if unread_only:
            stmt = stmt.where(Conversation.seller_unread_count > 0)
        if after is not None:
            unread, at, last_id = after
            stmt = stmt.where(
                or_(
                    flag < unread,
                    and_(
                        flag == unread,
                        or_(
                            Conversation.last_message_at < at,
                            and_(Conversation.last_message_at == at, Conversation.id < last_id),
                        ),
                    ),
                )
            )
        stmt = stmt.order_by(flag.desc(), Conversation.last_message_at.desc(), Conversation.id.desc()).limit(
            limit + 1
        )
        rows = (await self.session.execute(stmt)).all()
        return [ConversationRow(r[0], r[1], r[2], r[3], is_seller=True) for r in rows]

    # --- messages -----------------------------------------------------------------------------------

    async def messages_page(
        self, conversation_id: int, before_id: int | None, limit: int
    ) -> list[tuple[Message, str]]:
        """Messages newest first with their sender's display name (one row more than a page)."""
        stmt = (
            select(Message, User.display_name)
            .join(User, User.id == Message.sender_user_id)
            .where(Message.conversation_id == conversation_id)
        )
        if before_id is not None:
            stmt = stmt.where(Message.id < before_id)
        rows = (await self.session.execute(stmt.order_by(Message.id.desc()).limit(limit + 1))).all()
        return [(r[0], r[1]) for r in rows]

    async def attachments(self, message_ids: Sequence[int]) -> dict[int, list[MessageAttachment]]:
        found: dict[int, list[MessageAttachment]] = {i: [] for i in message_ids}
        if not message_ids:
            return found
        rows = await self.session.scalars(
            select(MessageAttachment)
            .where(MessageAttachment.message_id.in_(message_ids))
            .order_by(MessageAttachment.message_id, MessageAttachment.position, MessageAttachment.id)
        )
        for attachment in rows.all():
            found[attachment.message_id].append(attachment)
        return found

    # --- read marks and counters --------------------------------------------------------------------

    async def record_message(self, conversation: Conversation, side: str, preview: str, at: datetime) -> None:
        """Summarise a new message on its conversation in one atomic update: the sender's side has read
        the thread, the other side has one more unread message. The loaded row gets the new values."""
        values: dict[str, Any] = {
            "last_message_at": at,
            "last_message_preview": preview,
            "last_sender_side": side,
            "message_count": Conversation.message_count + 1,
        }
        if side == "buyer":
            values |= {
                "buyer_unread_count": 0,
                "buyer_last_read_at": at,
                "seller_unread_count": Conversation.seller_unread_count + 1,
            }
        else:
            values |= {
                "seller_unread_count": 0,
                "seller_last_read_at": at,
                "buyer_unread_count": Conversation.buyer_unread_count + 1,
            }
        row = (
            await self.session.execute(
                update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(**values)
                .returning(
                    Conversation.message_count,
                    Conversation.buyer_unread_count,
                    Conversation.seller_unread_count,
                )
                .execution_options(synchronize_session=False)
            )
        ).one()
        values |= {"message_count": row[0], "buyer_unread_count": row[1], "seller_unread_count": row[2]}
        for key, value in values.items():
            set_committed_value(conversation, key, value)

    async def mark_read(self, conversation: Conversation, side: str, at: datetime) -> None:
        """Clear one side's unread count; a no-op (no write) when that side has nothing unread."""
        if side == "buyer":
            count, read_at = Conversation.buyer_unread_count, Conversation.buyer_last_read_at
            values = {"buyer_unread_count": 0, "buyer_last_read_at": at}
        else:
            count, read_at = Conversation.seller_unread_count, Conversation.seller_last_read_at
            values = {"seller_unread_count": 0, "seller_last_read_at": at}
        result = await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id, or_(count > 0, read_at.is_(None)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            for key, value in values.items():
                set_committed_value(conversation, key, value)

    async def unread_counts(self, actor: Actor) -> tuple[int, dict[int, int]]:
        """Conversations with unread messages for the actor: in all (as their buyer, or as one of their
        store's people; each conversation counted once) and per store the actor works on. Two queries (one
        when there is nothing unread)."""
        if actor.user_id is None:
            return 0, {}
        total = await self.session.scalar(unread_total_query(actor))
        if not total:
            return 0, {}
        return int(total), await self.unread_per_store(actor)

    async def unread_per_store(self, actor: Actor) -> dict[int, int]:
        """Per store the actor works on, the conversations with messages unread by the store (stores
        without any left out). One query."""
        mine = store_ids(actor, "store:read")
        rows = await self.session.execute(
            select(Conversation.store_id, func.count())
            .where(Conversation.store_id.in_(mine), Conversation.seller_unread_count > 0)
            .group_by(Conversation.store_id)
        )
        return {int(store_id): int(count) for store_id, count in rows.all()}

    async def store_people(self, store_id: int) -> list[int]:
        """Users who answer for a store (its owner, or its organisation's members with ``store:read``)."""
        owned = select(Store.owner_user_id).where(Store.id == store_id, Store.owner_user_id.is_not(None))
        members = (
            select(Membership.user_id)
            .join(Store, Store.organization_id == Membership.organization_id)
            .where(Store.id == store_id, Membership.role.in_(roles_with("store:read")))
        )
        rows = await self.session.scalars(owned.union(members))
        return sorted({int(user_id) for user_id in rows.all() if user_id is not None})
