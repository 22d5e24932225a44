"""Text primitives shared by the normalisers: Unicode NFC, Vietnamese ASCII folding, spacing.

Pure string functions with no knowledge of which field they are applied to. They must never log
their input (it is patient data) and never depend on locale settings.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["collapse_spaces", "fold_ascii", "nfc"]

_SPACES = re.compile(r"\s+")
# Đ/đ has no decomposition in Unicode (it is a distinct letter, not D + mark), so it is mapped by hand.
_D_STROKE = str.maketrans({"Đ": "D", "đ": "d", "Ð": "D", "ð": "d"})


def nfc(text: str) -> str:
    """Return `text` in Unicode NFC (NFD input from some HIS exports becomes precomposed)."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text)


def collapse_spaces(text: str) -> str:
    """Strip and collapse every run of whitespace (including tabs, NBSP) to one ASCII space."""
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def fold_ascii(text: str) -> str:
    """Fold Vietnamese to ASCII: strip tone and vowel marks, Đ -> D; case is kept.

    `fold_ascii("Nguyễn Thị Đào") == "Nguyen Thi Dao"`.
    """
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text.translate(_D_STROKE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
