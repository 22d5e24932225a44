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


def _fold_table() -> dict[int, str | None]:
    """Latin letters with marks -> base letter; combining marks -> removed (so NFD input folds too).

    Built once from Unicode decompositions so that folding is a single C-level `str.translate`.
    Đ/đ has no decomposition (it is a letter of its own, not D + mark), so it is mapped by hand.
    """
    table: dict[int, str | None] = {cp: None for cp in range(0x0300, 0x0370)}
    for cp in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
        base = "".join(ch for ch in unicodedata.normalize("NFD", chr(cp)) if not unicodedata.combining(ch))
        if base != chr(cp) and base.isascii() and base:
            table[cp] = base
    table.update({ord("Đ"): "D", ord("đ"): "d", ord("Ð"): "D", ord("ð"): "d"})
    return table


_FOLD = _fold_table()


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
    return text if text.isascii() else text.translate(_FOLD)
