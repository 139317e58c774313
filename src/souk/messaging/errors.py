"""Messaging errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Invalid, NotFound


class ConversationNotFound(NotFound):
    code = "conversation_not_found"

    def __init__(self) -> None:
        super().__init__("No such conversation.")


class OwnStoreInquiry(Invalid):
    code = "own_store"

    def __init__(self) -> None:
        super().__init__(
            "This product is sold by your own store; buyers ask you, not the other way round.",
            fields={"product_id": "is a product of your own store"},
        )
