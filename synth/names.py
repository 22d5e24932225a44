"""Vietnamese personal names: frequency tables and the text transforms that noise and facility software apply.

Family-name shares follow docs/identity.md (Nguyễn ~38% ...), with the Hoàng/Huỳnh and Vũ/Võ pairs split
north-heavy (the province is in the north) and a long tail. Middle names are gendered and depend on the
birth cohort (Thị and Văn are fading). Given names are gendered with a Zipf-like long tail. All names are
common Vietnamese words: no real person's record was used.

This module must never log a name.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

# (family name, share in percent).  Pairs from docs/identity.md: Hoàng/Huỳnh ~5 (north: mostly Hoàng),
# Vũ/Võ ~4 (north: mostly Vũ). The tail shares the remaining ~10.5%.
FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.0),
    ("Trần", 12.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 4.0),
    ("Huỳnh", 1.0),
    ("Phan", 4.5),
    ("Vũ", 3.0),
    ("Võ", 1.0),
    ("Đặng", 2.0),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đinh", 0.9),
    ("Đào", 0.8),
    ("Trương", 0.8),
    ("Trịnh", 0.7),
    ("Mai", 0.6),
    ("Đoàn", 0.6),
    ("Cao", 0.5),
    ("Lương", 0.5),
    ("Lâm", 0.4),
    ("Hà", 0.4),
    ("Tô", 0.3),
    ("Tạ", 0.3),
    ("Chu", 0.3),
    ("Phùng", 0.3),
    ("Lưu", 0.3),
    ("Vương", 0.25),
    ("Kiều", 0.2),
    ("Triệu", 0.2),
    ("Quách", 0.15),
    ("Thái", 0.15),
    ("Lại", 0.15),
    ("Nghiêm", 0.12),
    ("Khúc", 0.1),
    ("Mạc", 0.1),
    ("Tăng", 0.1),
    ("Đàm", 0.1),
    ("Văn", 0.1),
    ("Nông", 0.1),
    ("Lò", 0.05),
    ("Âu", 0.05),
    ("Doãn", 0.05),
    ("Hứa", 0.05),
    ("Giáp", 0.05),
    ("Ninh", 0.05),
    ("Bạch", 0.05),
    ("Cù", 0.05),
    ("Lã", 0.05),
    ("Tống", 0.1),
    ("Tiêu", 0.05),
)

_MALE_MIDDLE: tuple[tuple[str, float], ...] = (
    ("Đức", 8),
    ("Minh", 8),
    ("Quang", 6),
    ("Hữu", 6),
    ("Công", 5),
    ("Thành", 4),
    ("Xuân", 4),
    ("Đình", 5),
    ("Ngọc", 3),
    ("Anh", 3),
    ("Bảo", 3),
    ("Gia", 4),
    ("Trung", 2),
    ("Hoàng", 3),
    ("Tuấn", 2),
    ("Mạnh", 2),
    ("Tiến", 2),
    ("Duy", 3),
    ("Việt", 2),
    ("Thế", 3),
    ("Trọng", 2),
    ("Chí", 2),
    ("Khắc", 1),
    ("Huy", 2),
)
_FEMALE_MIDDLE: tuple[tuple[str, float], ...] = (
    ("Ngọc", 8),
    ("Thu", 6),
    ("Thanh", 6),
    ("Minh", 5),
    ("Phương", 4),
    ("Bảo", 4),
    ("Hồng", 4),
    ("Kim", 4),
    ("Mai", 3),
    ("Thúy", 3),
    ("Thùy", 3),
    ("Hoài", 2),
    ("Diệu", 2),
    ("Khánh", 3),
    ("Hải", 2),
    ("Bích", 2),
    ("Quỳnh", 2),
    ("Tuyết", 1),
    ("Hà", 2),
    ("Lan", 1),
    ("Tú", 2),
    ("Yến", 1),
    ("Mỹ", 2),
    ("Gia", 2),
)

_MALE_GIVEN: tuple[str, ...] = (
    "Hùng",
    "Dũng",
    "Tuấn",
    "Minh",
    "Nam",
    "Long",
    "Hải",
    "Sơn",
    "Cường",
    "Thắng",
    "Hiếu",
    "Trung",
    "Đức",
    "Quân",
    "Phong",
    "Huy",
    "Khánh",
    "Anh",
    "Tùng",
    "Thành",
    "Hoàng",
    "Việt",
    "Tâm",
    "Bình",
    "Hưng",
    "Lâm",
    "Toàn",
    "Vinh",
    "Kiên",
    "Quang",
    "Đạt",
    "Thịnh",
    "Phúc",
    "Lộc",
    "Tài",
    "Nghĩa",
    "Hòa",
    "Tiến",
    "Trường",
    "Khoa",
    "Duy",
    "Hậu",
    "Thái",
    "Tú",
    "Bảo",
    "Hiển",
    "Chiến",
    "Công",
    "Định",
    "Hào",
    "Linh",
    "Mạnh",
    "Nhân",
    "Quý",
    "Sang",
    "Thanh",
    "Thuận",
    "Trí",
    "Vũ",
    "Vương",
    "An",
    "Đông",
    "Giang",
    "Hà",
    "Hiệp",
    "Hoan",
    "Kỳ",
    "Lực",
    "Ngọc",
    "Phát",
    "Phú",
    "Quyết",
    "Sỹ",
    "Tấn",
    "Thạch",
    "Thiện",
    "Thông",
    "Tín",
    "Triều",
    "Tuyên",
    "Uy",
    "Văn",
    "Vĩnh",
    "Xuân",
    "Yên",
    "Bách",
    "Cảnh",
    "Chinh",
    "Đăng",
    "Đoàn",
    "Hạnh",
    "Khải",
    "Khang",
    "Kha",
    "Luân",
    "Nguyên",
    "Nhật",
    "Quốc",
    "Sĩ",
    "Tân",
    "Thụy",
    "Toản",
    "Trọng",
    "Tường",
    "Vỹ",
    "Hy",
    "Lý",
    "Mỹ",
    "Duẩn",
    "Khiêm",
    "Lợi",
    "Mẫn",
    "Ninh",
    "Phương",
    "Quảng",
    "Thuyên",
    "Tiệp",
    "Túc",
)
_FEMALE_GIVEN: tuple[str, ...] = (
    "Linh",
    "Hương",
    "Lan",
    "Hoa",
    "Trang",
    "Hằng",
    "Thảo",
    "Ngọc",
    "Mai",
    "Huyền",
    "Nga",
    "Anh",
    "Thủy",
    "Hà",
    "Phương",
    "Yến",
    "Dung",
    "Hạnh",
    "Loan",
    "Vân",
    "Nhung",
    "Oanh",
    "Thu",
    "Hiền",
    "Trinh",
    "Uyên",
    "Vy",
    "Chi",
    "Giang",
    "Hồng",
    "Quỳnh",
    "Tâm",
    "Thanh",
    "Thúy",
    "Tuyết",
    "Xuân",
    "Yên",
    "Ánh",
    "Bích",
    "Châu",
    "Diệp",
    "Diễm",
    "Dương",
    "Hậu",
    "Huệ",
    "Khánh",
    "Lệ",
    "Liên",
    "Ly",
    "My",
    "Nhi",
    "Nhàn",
    "Nguyệt",
    "Nhung",
    "Phượng",
    "Quyên",
    "Sen",
    "Tiên",
    "Trâm",
    "Tú",
    "Vi",
    "Vinh",
    "Thơ",
    "Thắm",
    "Thoa",
    "Thùy",
    "Trà",
    "Tươi",
    "Hoài",
    "Kiều",
    "Lành",
    "Lụa",
    "Mến",
    "Miên",
    "Nương",
    "Phúc",
    "Sương",
    "Thìn",
    "Thịnh",
    "Thư",
    "Tình",
    "Vui",
    "Xoan",
    "Yến",
    "Diệu",
    "Hân",
    "Khuê",
    "Lam",
    "Mỹ",
    "Na",
    "Ngân",
    "Quế",
    "Sa",
    "Thi",
    "Thy",
    "Trúc",
    "Tường",
    "Ý",
    "Đào",
    "Gấm",
    "Hải",
    "Hường",
    "Kim",
    "Lài",
    "Liễu",
    "Mận",
)

_THI_VAN_BY_COHORT: tuple[tuple[int, float], ...] = ((1960, 0.80), (1975, 0.70), (1990, 0.55), (2005, 0.35))
_THI_VAN_RECENT = 0.2


def _zipf_cum(n: int, exponent: float = 1.05) -> list[float]:
    return list(accumulate(1.0 / (i + 1) ** exponent for i in range(n)))


@dataclass(frozen=True, slots=True)
class _Table:
    values: tuple[str, ...]
    cum: tuple[float, ...]

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.values, cum_weights=self.cum, k=1)[0]


def _table(pairs: Sequence[tuple[str, float]]) -> _Table:
    return _Table(tuple(p[0] for p in pairs), tuple(accumulate(p[1] for p in pairs)))


FAMILY = _table(FAMILY_NAMES)
_MIDDLE = {1: _table(_MALE_MIDDLE), 2: _table(_FEMALE_MIDDLE)}
_GIVEN = {
    1: _Table(_MALE_GIVEN, tuple(_zipf_cum(len(_MALE_GIVEN)))),
    2: _Table(_FEMALE_GIVEN, tuple(_zipf_cum(len(_FEMALE_GIVEN)))),
}
THI_VAN = {1: "Văn", 2: "Thị"}


@dataclass(frozen=True, slots=True)
class Name:
    """Family, middle names and given name, NFC, title case. ``full`` joins them with single spaces."""

    family: str
    middles: tuple[str, ...]
    given: str

    @property
    def full(self) -> str:
        return " ".join((self.family, *self.middles, self.given))


def draw_middles(rng: random.Random, *, sex: int, birth_year: int) -> tuple[str, ...]:
    p_classic = next((p for year, p in _THI_VAN_BY_COHORT if birth_year < year), _THI_VAN_RECENT)
    if rng.random() < p_classic:
        middles: tuple[str, ...] = (THI_VAN[sex],)
        if sex == 2 and rng.random() < 0.08:
            middles += (_MIDDLE[2].draw(rng),)
        return middles
    middles = (_MIDDLE[sex].draw(rng),)
    if rng.random() < 0.06:
        second = _MIDDLE[sex].draw(rng)
        if second != middles[0]:
            middles += (second,)
    return middles


def draw_given(rng: random.Random, *, sex: int) -> str:
    return _GIVEN[sex].draw(rng)


def draw_name(rng: random.Random, *, sex: int, birth_year: int, family: str | None = None) -> Name:
    middles = draw_middles(rng, sex=sex, birth_year=birth_year)
    given = draw_given(rng, sex=sex)
    while given in middles:
        given = draw_given(rng, sex=sex)
    return Name(family or FAMILY.draw(rng), middles, given)


# --- text transforms -------------------------------------------------------------------------------

_TONES = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # huyền, sắc, hỏi, ngã, nặng
_TONE_SET = frozenset(_TONES)


def strip_diacritics(text: str) -> str:
    """What software without Vietnamese support writes: no marks, Đ/đ folded to D/d."""
    decomposed = unicodedata.normalize("NFD", text)
    out = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return out.replace("Đ", "D").replace("đ", "d")


def has_diacritics(text: str) -> bool:
    return strip_diacritics(text) != text


def to_nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def has_tone(text: str) -> bool:
    return any(ch in _TONE_SET for ch in unicodedata.normalize("NFD", text))


def wrong_tone(text: str, rng: random.Random) -> str:
    """Replace one tone mark by another (Nguyễn -> Nguyển). Caller checks :func:`has_tone` first."""
    chars = list(unicodedata.normalize("NFD", text))
    positions = [i for i, ch in enumerate(chars) if ch in _TONE_SET]
    i = rng.choice(positions)
    chars[i] = rng.choice([t for t in _TONES if t != chars[i]])
    return unicodedata.normalize("NFC", "".join(chars))


_Y_TO_I = {"y": "i", "ý": "í", "ỳ": "ì", "ỷ": "ỉ", "ỹ": "ĩ", "ỵ": "ị"}
_I_TO_Y = {v: k for k, v in _Y_TO_I.items()}
_Y_I_CONSONANTS = frozenset("lmvkhst")


def y_i_positions(tokens: Sequence[str]) -> list[int]:
    """Tokens (given or middle, not Thị) ending consonant + y/i, where writers confuse the two (Vy/Vi)."""
    out = []
    for idx, tok in enumerate(tokens):
        if idx == 0 or len(tok) < 2 or tok.lower() == "thị":
            continue
        last, before = tok[-1].lower(), tok[-2].lower()
        if (last in _Y_TO_I or last in _I_TO_Y) and (before in _Y_I_CONSONANTS or tok.lower().startswith("qu")):
            out.append(idx)
    return out


def swap_y_i(token: str) -> str:
    last = token[-1]
    low = last.lower()
    repl = _Y_TO_I.get(low) or _I_TO_Y[low]
    return token[:-1] + (repl.upper() if last.isupper() else repl)


_KEYBOARD_NEIGHBOURS = {
    "a": "sq",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "q": "w",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "x": "zc",
    "y": "tu",
}


def typo(token: str, rng: random.Random) -> str:
    """One-letter slip on an ASCII letter of ``token``: neighbour key, deletion or doubling."""
    positions = [i for i, ch in enumerate(token) if ch.lower() in _KEYBOARD_NEIGHBOURS]
    if not positions:
        return token + token[-1]
    i = rng.choice(positions)
    ch = token[i]
    kind = rng.random()
    if kind < 0.5:
        sub = rng.choice(_KEYBOARD_NEIGHBOURS[ch.lower()])
        return token[:i] + (sub.upper() if ch.isupper() else sub) + token[i + 1 :]
    if kind < 0.75 and len(token) > 2:
        return token[:i] + token[i + 1 :]
    return token[:i] + ch + token[i:]
