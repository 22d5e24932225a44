"""Person names (HO_TEN): cleaned full name, ASCII fold, family / middle / given tokens, match keys.

Order in Vietnamese names is family, middle name(s), given name ("NGUYỄN THỊ MINH KHAI"). The
gendered fillers Thị (women) and Văn (men) are often dropped or added between facilities, so the
middle name is also given without them. Keys for fuzzy matching unify terminal Y/I (Vy/Vi, Lý/Lí)
and the regional surname pairs Hoàng/Huỳnh and Vũ/Võ.

Pure functions: never log a name, never guess a gender from a name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from linkage.normalise.mojibake import repair_mojibake, repair_vni_typing
from linkage.normalise.text import collapse_spaces, fold_ascii, nfc

__all__ = ["GENDERED_MIDDLE", "NameParts", "name_key", "normalise_name", "sorted_name_key"]

GENDERED_MIDDLE = frozenset({"THỊ", "VĂN"})
# Same surname, northern / southern form: compared as one in the family-name key.
_SURNAME_GROUPS = {"HUYNH": "HOANG", "VO": "VU"}
# Anything that is not a letter, a combining mark, a space or an apostrophe/hyphen inside a name.
_NOT_NAME = re.compile(r"[^\w\s'\-]|[\d_]")
_TERMINAL_Y = re.compile(r"(?<=[BCDGHKLMNPQRSTVX])Y\b")


@dataclass(frozen=True, slots=True)
class NameParts:
    """One name, normalised. All text fields are upper case NFC with single spaces."""

    full: str
    ascii: str
    family: str | None
    middle: tuple[str, ...]
    given: str | None
    middle_core: tuple[str, ...]  # middle without Thị / Văn
    key: str  # ASCII, terminal Y -> I, surname groups unified: for blocking and fuzzy comparison

    @property
    def given_ascii(self) -> str | None:
        return fold_ascii(self.given) if self.given else None

    @property
    def has_gendered_middle(self) -> bool:
        return any(token in GENDERED_MIDDLE for token in self.middle)


def name_key(ascii_tokens: list[str]) -> str:
    """Match key from ASCII-folded upper-case tokens: Y/I unified at word end, surname groups unified."""
    if not ascii_tokens:
        return ""
    family = ascii_tokens[0]
    if len(ascii_tokens) > 1:
        family = _SURNAME_GROUPS.get(family, family)
    return _TERMINAL_Y.sub("I", " ".join([family, *ascii_tokens[1:]]))


def sorted_name_key(ascii_tokens: list[str]) -> str:
    """Order-invariant match key: the multiset of the name's tokens, sorted, without Thị/Văn.

    Each token is keyed as :func:`name_key` keys a family name (surname groups, terminal Y -> I), so that
    "Nguyễn Văn An", "An Văn Nguyễn" and "Văn An Nguyễn" share one key; the gendered middle names are left
    out because sex is compared on its own. Empty when nothing is left.
    """
    tokens = [t for t in ascii_tokens if t and t not in ("THI", "VAN")]
    keyed = [_TERMINAL_Y.sub("I", _SURNAME_GROUPS.get(t, t)) for t in tokens]
    return " ".join(sorted(keyed))


def clean_name_text(raw: str) -> str:
    """NFC, legacy-encoding repair, punctuation and digits out, upper case, single spaces."""
    text = repair_mojibake(nfc(raw))
    text = repair_vni_typing(text)
    text = _NOT_NAME.sub(" ", text)
    return collapse_spaces(text).upper()


@lru_cache(maxsize=131072)
def normalise_name(raw: str | None) -> NameParts | None:
    """Split and normalise a full name; None when nothing usable is left.

    A single token is taken as the given name (no family name known).
    """
    if raw is None:
        return None
    full = clean_name_text(raw)
    if not full:
        return None
    tokens = full.split(" ")
    ascii_tokens = fold_ascii(full).split(" ")
    family: str | None = None
    middle: tuple[str, ...] = ()
    given = tokens[-1]
    if len(tokens) > 1:
        family, middle = tokens[0], tuple(tokens[1:-1])
    return NameParts(
        full=full,
        ascii=" ".join(ascii_tokens),
        family=family,
        middle=middle,
        given=given,
        middle_core=tuple(token for token in middle if token not in GENDERED_MIDDLE),
        key=name_key(ascii_tokens),
    )
