"""The resolved caller of a request."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None = None
    is_operator: bool = False
    # None: a web session with the user's full rights; otherwise the API token's scopes
    scopes: frozenset[str] | None = None
    token_id: int | None = None
    ip: str = "unknown"
    display_name: str = ""
    email: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    def can_write(self) -> bool:
        return self.scopes is None or "write" in self.scopes


ANONYMOUS = Actor()
