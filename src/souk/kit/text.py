"""Text helpers: folding for search, slugs."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def fold(text: str) -> str:
    """Case- and accent-folded text: "Café Crème" -> "cafe creme"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    return [w for w in _NON_WORD.split(fold(text)) if w]


def slugify(text: str, max_length: int = 60) -> str:
    slug = "-".join(words(text))[:max_length].strip("-")
    return slug or "item"
