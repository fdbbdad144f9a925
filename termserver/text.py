"""Text folding shared by the store and the services (the full Danish normaliser lives in services/search.py)."""
from __future__ import annotations

import unicodedata


def fold(text: str | None) -> str:
    """Casefold and NFKC-normalise ``text`` and collapse runs of whitespace: the form simple filters compare."""
    if not text:
        return ""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
