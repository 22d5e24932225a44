"""MA_THE_BHYT: health-insurance card codes -> group, benefit level, province, 10-digit BHXH number.

A card code is 15 characters: 2 letters (beneficiary group: DN, HC, HT, TE...), 1 digit benefit
level 1-5, 2 digits province of the issuing office, 10 digits = the person's lifelong social
insurance number (mã số BHXH). The prefix changes when a person's group changes; the last 10 digits
are the stable identifier. Several cards in one encounter are `;`-separated (the last one is the
newest). A bare 10-digit value is taken as the BHXH number itself (seen in real exports).

Never log a card code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["InsuranceCard", "bhxh_number", "parse_insurance_cards"]

_CARD = re.compile(r"([A-Z]{2})([1-5])(\d{2})(\d{10})")
_BARE = re.compile(r"\d{10}")
_SEPARATORS = re.compile(r"[\s.\-]")


@dataclass(frozen=True, slots=True)
class InsuranceCard:
    code: str  # the full 15-character code, or the bare 10 digits
    group: str | None  # e.g. "DN", "TE"; None for a bare BHXH number
    benefit_level: int | None
    province: str | None  # 2 digits, of the issuing office (not the residence)
    bhxh_number: str


@lru_cache(maxsize=65536)
def parse_insurance_cards(raw: str | None) -> tuple[InsuranceCard, ...]:
    """Every well-formed card in the field, in order; malformed entries are skipped."""
    if raw is None:
        return ()
    cards: list[InsuranceCard] = []
    for part in raw.split(";"):
        code = _SEPARATORS.sub("", part).upper()
        if match := _CARD.fullmatch(code):
            group, level, province, number = match.groups()
            cards.append(InsuranceCard(code, group, int(level), province, number))
        elif _BARE.fullmatch(code):
            cards.append(InsuranceCard(code, None, None, None, code))
    return tuple(cards)


def bhxh_number(raw: str | None) -> str | None:
    """The 10-digit BHXH number of the newest (last) well-formed card, or None."""
    cards = parse_insurance_cards(raw)
    return cards[-1].bhxh_number if cards else None
