"""Repair of Vietnamese text typed in legacy 8-bit encodings and decoded as cp1252 / Latin-1.

Older HIS databases and spreadsheets hold names typed with the TCVN3 (ABC, `.Vn` fonts) or VNI
(`VNI-` fonts) encodings. When such bytes are read as Windows-1252, "Nguyễn Văn An" arrives as
`NguyÔn V¨n An` (TCVN3) or `Nguyeãn Vaên An` (VNI). A third, related damage is VNI *typing* residue,
where the input method was off and the tone keys stayed as digits: `Nguye64n`.

The tables below are data, written from the encodings' definitions:

- TCVN3 / ABC: TCVN 5712:1993, font set VN3 (one byte per letter; the upper-case `.VnTimeH` fonts reuse
  the lower-case codes). Every byte below was checked against glibc iconv's `TCVN5712-1` table,
  which agrees with VN3 on these positions (VN1 adds upper-case letters in the gaps, not used here).
- VNI-Windows (VNI Software): a base ASCII letter followed by one mark byte; i-vowels, ơ, ư and đ are
  single bytes.
- VNI typing method: digits 1-5 = sắc, huyền, hỏi, ngã, nặng; 6 = circumflex; 7 = horn; 8 = breve;
  9 = đ.

This module must never change correct Unicode Vietnamese (NFC or NFD): repair happens only when the
text carries a signature that proper Vietnamese cannot contain, and only if the repaired text is
cleaner than the input. It never logs its input.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from linkage.normalise.text import fold_ascii

__all__ = ["clean_unicode", "repair_mojibake", "repair_utf8_as_cp1252", "repair_vni_typing", "strip_invisible"]

# --- invisible characters, compatibility forms, UTF-8 read as cp1252 ----------------------------
# Zero-width space/joiners, word joiner, BOM, soft hyphen and bidirectional controls: pasted from web
# pages and office documents, invisible on screen, and they split a name into strings that never match.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# The soft hyphen is removed last: in TCVN3 text read as cp1252 its byte (0xAD) is the letter ư.
_SOFT_HYPHEN = re.compile("\u00ad")
# NFKC is applied only where it cannot change a Vietnamese letter: fullwidth and halfwidth forms
# (Ｎｇｕｙễｎ from East Asian input methods), Latin ligatures and the typographic spaces.
_COMPATIBILITY = re.compile("[\u2000-\u200a\u202f\u205f\u3000\ufb00-\ufb06\uff01-\uffee]+")
# A UTF-8 lead byte of a Vietnamese letter (C3-C6: Latin-1/Latin Extended-A/B; E1: U+1Exx) read as
# cp1252, followed by a continuation byte read as cp1252 (0x80-0xBF; 0xA0 often became a plain space).
_CP1252_CONTINUATION = (
    "\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d"
    "\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178\u0081\u008d"
    "\u008f\u0090\u009d\u00a0-\u00bf"
)
_UTF8_AS_CP1252 = re.compile(f"[\u00c3-\u00c6][{_CP1252_CONTINUATION} ]|\u00e1[\u00ba\u00bb][{_CP1252_CONTINUATION}]")


def strip_invisible(text: str, *, soft_hyphen: bool = True) -> str:
    """Remove zero-width characters, the BOM, bidirectional controls and (unless told not to) soft hyphens."""
    text = _INVISIBLE.sub("", text)
    return _SOFT_HYPHEN.sub("", text) if soft_hyphen else text


def _cp1252_bytes(text: str) -> bytes | None:
    out = bytearray()
    for ch in text:
        code = ord(ch)
        if code in (0x81, 0x8D, 0x8F, 0x90, 0x9D):  # undefined in cp1252: decoders pass them through
            out.append(code)
            continue
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            return None
    return bytes(out)


def repair_utf8_as_cp1252(text: str) -> str:
    """``HoÃ ng`` / ``Nguyá»…n`` (UTF-8 bytes decoded as cp1252) → ``Hoàng`` / ``Nguyễn``; anything else
    unchanged. A non-breaking space (byte A0) that was turned into a plain space is put back first."""
    if _UTF8_AS_CP1252.search(text) is None:
        return text
    for attempt in (text, re.sub("(?<=[\u00c3-\u00c6]) ", "\u00a0", text)):
        raw = _cp1252_bytes(attempt)
        if raw is None:
            continue
        try:
            repaired = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _UTF8_AS_CP1252.search(repaired) is None:
            return unicodedata.normalize("NFC", repaired)
    return text


def clean_unicode(text: str, *, soft_hyphen: bool = True) -> str:
    """Invisible characters out, compatibility forms folded (NFKC where safe), UTF-8-read-as-cp1252
    repaired, NFC: what every normaliser of names and addresses applies first, for linking and search.
    ``soft_hyphen=False`` keeps soft hyphens for a legacy-encoding repair that reads them as ư."""
    if text.isascii():
        return text
    text = strip_invisible(text, soft_hyphen=soft_hyphen)
    text = _COMPATIBILITY.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    return unicodedata.normalize("NFC", repair_utf8_as_cp1252(text))


# --- TCVN3 (VN3): byte value -> character -------------------------------------------------------
TCVN3: dict[int, str] = {
    0xA1: "Ă", 0xA2: "Â", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư", 0xA7: "Đ",
    0xA8: "ă", 0xA9: "â", 0xAA: "ê", 0xAB: "ô", 0xAC: "ơ", 0xAD: "ư", 0xAE: "đ",
    0xB5: "à", 0xB6: "ả", 0xB7: "ã", 0xB8: "á", 0xB9: "ạ",
    0xBB: "ằ", 0xBC: "ẳ", 0xBD: "ẵ", 0xBE: "ắ", 0xC6: "ặ",
    0xC7: "ầ", 0xC8: "ẩ", 0xC9: "ẫ", 0xCA: "ấ", 0xCB: "ậ",
    0xCC: "è", 0xCE: "ẻ", 0xCF: "ẽ", 0xD0: "é", 0xD1: "ẹ",
    0xD2: "ề", 0xD3: "ể", 0xD4: "ễ", 0xD5: "ế", 0xD6: "ệ",
    0xD7: "ì", 0xD8: "ỉ", 0xDC: "ĩ", 0xDD: "í", 0xDE: "ị",
    0xDF: "ò", 0xE1: "ỏ", 0xE2: "õ", 0xE3: "ó", 0xE4: "ọ",
    0xE5: "ồ", 0xE6: "ổ", 0xE7: "ỗ", 0xE8: "ố", 0xE9: "ộ",
    0xEA: "ờ", 0xEB: "ở", 0xEC: "ỡ", 0xED: "ớ", 0xEE: "ợ",
    0xEF: "ù", 0xF1: "ủ", 0xF2: "ũ", 0xF3: "ú", 0xF4: "ụ",
    0xF5: "ừ", 0xF6: "ử", 0xF7: "ữ", 0xF8: "ứ", 0xF9: "ự",
    0xFA: "ỳ", 0xFB: "ỷ", 0xFC: "ỹ", 0xFD: "ý", 0xFE: "ỵ",
}  # fmt: skip

# --- VNI-Windows: mark bytes, as the Latin-1 characters they decode to -------------------------
_GRAVE, _ACUTE, _HOOK, _TILDE, _DOT = "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"
_CIRCUMFLEX, _BREVE, _HORN = "\u0302", "\u0306", "\u031b"
VNI_TONE: dict[str, str] = {"ù": _ACUTE, "ø": _GRAVE, "û": _HOOK, "õ": _TILDE, "ï": _DOT}
VNI_CIRCUMFLEX: dict[str, str] = {"â": "", "à": _GRAVE, "á": _ACUTE, "å": _HOOK, "ã": _TILDE, "ä": _DOT}
VNI_BREVE: dict[str, str] = {"ê": "", "è": _GRAVE, "é": _ACUTE, "ú": _HOOK, "ü": _TILDE, "ë": _DOT}
VNI_SINGLE: dict[str, str] = {"ô": "ơ", "ö": "ư", "ñ": "đ", "ì": "ì", "í": "í", "æ": "ỉ", "ó": "ĩ", "ò": "ị"}
VNI_Y_DOT = "î"  # y + î = ỵ


def _compose(base: str, *marks: str) -> str:
    return unicodedata.normalize("NFC", base + "".join(marks))


def _vni_table() -> dict[str, str]:
    """Every VNI sequence (1 or 2 characters as decoded by cp1252) -> its Unicode letter."""
    table: dict[str, str] = {}
    for lower in (True, False):

        def case(s: str, lower: bool = lower) -> str:
            return s if lower else s.upper()

        for vowel in "aeiouy":
            for mark, tone in VNI_TONE.items():
                table[case(vowel + mark)] = case(_compose(vowel, tone))
        for vowel in "aeo":
            for mark, tone in VNI_CIRCUMFLEX.items():
                table[case(vowel + mark)] = case(_compose(vowel, _CIRCUMFLEX, tone))
        for mark, tone in VNI_BREVE.items():
            table[case("a" + mark)] = case(_compose("a", _BREVE, tone))
        for code, letter in VNI_SINGLE.items():
            table[case(code)] = case(letter)
        for horned, base in (("ô", "o"), ("ö", "u")):
            for mark, tone in VNI_TONE.items():
                table[case(horned + mark)] = case(_compose(base, _HORN, tone))
        table[case("y" + VNI_Y_DOT)] = case("ỵ")
    return table


VNI: dict[str, str] = _vni_table()

# Latin-1 letters that occur in correct Vietnamese text.
_VIETNAMESE_LATIN1 = frozenset("ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúý")
# Characters produced by cp1252 bytes 0x80-0xFF that proper Vietnamese never contains.
_FOREIGN = frozenset(
    ch for ch in bytes(range(0x80, 0x100)).decode("cp1252", errors="ignore") if ch not in _VIETNAMESE_LATIN1
)
_TCVN3_CHARS: dict[str, str] = {bytes([b]).decode("latin-1"): ch for b, ch in TCVN3.items()}
_TCVN3_TRANSLATE = str.maketrans(_TCVN3_CHARS)
_VNI_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(VNI, key=len, reverse=True)))
# VNI two-byte sequences that proper Vietnamese cannot contain (a vowel followed by a VNI mark byte
# that is itself a valid Vietnamese letter), e.g. "eã" (VNI ễ), "aê" (VNI ă), "oâ" (VNI ô).
_VNI_SIGNATURE = re.compile(r"[aeoAEO][âÂ]|[aeAE][àáãÀÁÃ]|[aA][êÊèéÈÉúÚ]|[yY][îÎ]")
# A lower-case letter followed by an upper-case accented Latin-1 letter inside a word: TCVN3 text
# typed with the VN3 fonts shows lower-case letters as Ô, Ö, Ç... ("NguyÔn").
_TCVN3_SIGNATURE = re.compile(r"[a-z][À-Þ]")


# One Vietnamese syllable once folded to ASCII: onset, vowel nucleus, coda. Used only to choose
# between repair candidates ("Buøi" is VNI for "Bùi", and its TCVN3 reading "Buứi" is no syllable).
_SYLLABLE = re.compile(
    r"(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdghklmnprstvx])?"
    r"(?:ieu|yeu|oai|oay|oeo|uay|uoi|uou|uya|uye|uyu|"
    r"ai|ao|au|ay|eo|eu|ia|ie|iu|oa|oe|oi|oo|ua|ue|ui|uo|uu|uy|ye|[aeiouy])"
    r"(?:ch|nh|ng|[cmnpt])?"
)
_WORD = re.compile(r"[^\s\-.,;/()]+")


def _foreign_count(text: str) -> int:
    return sum(1 for ch in text if ch in _FOREIGN)


def _invalid_syllables(text: str) -> int:
    return sum(1 for word in _WORD.findall(text) if _SYLLABLE.fullmatch(fold_ascii(word).lower()) is None)


def _score(text: str) -> int:
    """Lower is more plausible Vietnamese."""
    return (
        _foreign_count(text)
        + len(_VNI_SIGNATURE.findall(text))
        + len(_TCVN3_SIGNATURE.findall(text))
        + _invalid_syllables(text)
    )


def _match_case(word: str) -> str:
    """Upper-case a repaired word whose ASCII letters were all upper case (VN3 `H` fonts).

    Needs two such letters: in "Hå" (Hồ) one capital says nothing about the rest of the word.
    """
    letters = [ch for ch in word if ch.isascii() and ch.isalpha()]
    if len(letters) >= 2 and all(ch.isupper() for ch in letters):
        return word.upper()
    return word


def _decode_tcvn3(text: str) -> str:
    return " ".join(_match_case(word.translate(_TCVN3_TRANSLATE)) for word in text.split(" "))


def _decode_vni(text: str) -> str:
    return _VNI_PATTERN.sub(lambda m: VNI[m.group(0)], text)


@lru_cache(maxsize=65536)
def repair_mojibake(text: str) -> str:
    """Repair TCVN3 or VNI text that was decoded as cp1252/Latin-1; leave anything else unchanged.

    The input is first cleaned by :func:`clean_unicode` (and so put in NFC: correct NFD Vietnamese comes
    back as correct NFC).
    """
    if text.isascii():
        return text
    return _SOFT_HYPHEN.sub("", _repair_legacy(clean_unicode(text, soft_hyphen=False)))


def _repair_legacy(text: str) -> str:
    if any(ord(ch) > 0xFF and ch.isalpha() and ch not in "ŠšŒœŽžŸƒ" for ch in text):
        return text  # real Vietnamese letters beyond Latin-1 (ă, ơ, ư, đ, ạ...): already Unicode
    foreign = _foreign_count(text)
    tcvn3_hint = foreign > 0 or _TCVN3_SIGNATURE.search(text) is not None
    vni_hint = foreign > 0 or _VNI_SIGNATURE.search(text) is not None
    if not (tcvn3_hint or vni_hint):
        return text
    best, best_score = text, _score(text)
    candidates = []
    if tcvn3_hint:
        candidates.append(_decode_tcvn3(text))
    if vni_hint:
        candidates.append(_decode_vni(text))
    for candidate in candidates:
        score = _score(candidate)
        if score < best_score:
            best, best_score = candidate, score
    return best


# --- VNI typing residue ("Nguye64n") -----------------------------------------------------------
_TYPING_TONES = {"1": _ACUTE, "2": _GRAVE, "3": _HOOK, "4": _TILDE, "5": _DOT}
_TYPING_WORD = re.compile(r"[A-Za-z][A-Za-z1-9]*[1-9][A-Za-z1-9]*")
_VOWELS = "aeiouyAEIOUY"


def _apply_typing(word: str) -> str:
    """Apply VNI keystroke digits to the letters of one word (digits removed)."""
    letters: list[list[str]] = []  # each letter: [base, *combining marks]
    tone: str | None = None
    tone_at: int | None = None
    for ch in word:
        if not ch.isdigit():
            letters.append([ch])
            continue
        if ch in _TYPING_TONES:
            tone = _TYPING_TONES[ch]
            tone_at = len(letters) - 1 if letters and letters[-1][0] in _VOWELS else None
        elif ch == "6":
            for letter in reversed(letters):
                if letter[0] in "aeoAEO":
                    letter.append(_CIRCUMFLEX)
                    break
        elif ch == "7":
            # "uo7" makes ươ; otherwise the last o/u not yet horned gets the horn.
            free = [i for i, letter in enumerate(letters) if letter[0] in "ouOU" and _HORN not in letter]
            pair = len(free) >= 2 and free[-1] - free[-2] == 1 and letters[free[-2]][0] in "uU"
            for i in free[-2:] if pair else free[-1:]:
                letters[i].append(_HORN)
        elif ch == "8":
            for letter in reversed(letters):
                if letter[0] in "aA":
                    letter.append(_BREVE)
                    break
        elif ch == "9":
            for letter in letters:
                if letter[0] in "dD":
                    letter[0] = "đ" if letter[0] == "d" else "Đ"
                    break
    if tone is not None:
        if tone_at is None:
            tone_at = _tone_position(letters)
        if tone_at is not None:
            letters[tone_at].append(tone)
    return unicodedata.normalize("NFC", "".join("".join(letter) for letter in letters))


def _tone_position(letters: list[list[str]]) -> int | None:
    """Where the tone mark goes in a syllable (modern rule, good enough for names)."""
    vowels = [i for i, letter in enumerate(letters) if letter[0] in _VOWELS]
    if not vowels:
        return None
    # "gi" and "qu" start with a consonant cluster: their i/u is not the syllable's vowel.
    first = "".join(letter[0] for letter in letters[:2]).lower()
    if first in ("gi", "qu") and len(vowels) > 1 and vowels[0] == 1:
        vowels = vowels[1:]
    marked = [i for i in vowels if len(letters[i]) > 1]
    if marked:
        return marked[-1]
    if len(vowels) == 1:
        return vowels[0]
    closed = vowels[-1] < len(letters) - 1
    if closed or len(vowels) == 3:
        return vowels[1] if len(vowels) == 3 else vowels[-1]
    return vowels[0]


@lru_cache(maxsize=65536)
def repair_vni_typing(text: str) -> str:
    """Turn VNI typing residue into letters: `Nguye64n Va8n An` -> `Nguyễn Văn An`.

    Only for fields that never contain digits (names): elsewhere digits are data.
    """
    if not any(ch.isdigit() for ch in text):
        return text
    return _TYPING_WORD.sub(lambda m: _apply_typing(m.group(0)), text)
