"""DIEN_THOAI: phone numbers -> the national number starting with 0, classified mobile / landline.

- Country prefixes `+84`, `84`, `0084` and separators (spaces, dots, dashes, brackets) are removed.
- 11-digit mobile numbers converted in 2018 (MIC plan; table `MOBILE_2018`) become 10 digits.
- Landline area codes changed in 2017-2018 (MIC QĐ 2036/QĐ-BTTTT, table `LANDLINE_2017`: all 59
  changed provinces; Vĩnh Phúc 0211, Phú Thọ 0210, Hòa Bình 0218 and Hà Giang 0219 kept theirs).
  A current landline is 11 digits: `02` + area code + subscriber number.
- Ambiguity rule: a 10-digit number starting with a current mobile prefix (03x, 05x, 07x, 08x, 09x)
  is read as mobile, although some old landlines had the same digits (08 HCM, 038 Nghệ An...):
  after 2018 the mobile reading is far more frequent.

A phone is often a relative's and shared in a family: weak evidence. Never log a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = ["LANDLINE_2017", "MOBILE_2018", "Phone", "PhoneKind", "normalise_phone"]

PhoneKind = Literal["mobile", "landline", "invalid"]

# Old 11-digit mobile prefix -> new 10-digit prefix (2018).
MOBILE_2018: dict[str, str] = {
    # Viettel
    "0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036", "0167": "037",
    "0168": "038", "0169": "039",
    # MobiFone
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    # VinaPhone
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    # Vietnamobile
    "0186": "056", "0188": "058",
    # Gmobile
    "0199": "059",
}  # fmt: skip

# Old landline area code (with its 0) -> new area code (2017-2018 conversion).
LANDLINE_2017: dict[str, str] = {
    "04": "024", "08": "028",  # Hà Nội, TP Hồ Chí Minh
    "022": "0212", "0231": "0213", "020": "0214", "0230": "0215", "029": "0216",  # Sơn La..Yên Bái
    "033": "0203", "0240": "0204", "025": "0205", "026": "0206", "027": "0207",  # Quảng Ninh..Tuyên Quang
    "0280": "0208", "0281": "0209",  # Thái Nguyên, Bắc Kạn
    "0320": "0220", "0321": "0221", "0241": "0222", "031": "0225", "0351": "0226",  # Hải Dương..Hà Nam
    "036": "0227", "0350": "0228", "030": "0229",  # Thái Bình, Nam Định, Ninh Bình
    "052": "0232", "053": "0233", "054": "0234", "0510": "0235", "0511": "0236",  # Quảng Bình..Đà Nẵng
    "037": "0237", "038": "0238", "039": "0239",  # Thanh Hóa, Nghệ An, Hà Tĩnh
    "061": "0251", "062": "0252", "064": "0254", "055": "0255", "056": "0256",  # Đồng Nai..Bình Định
    "057": "0257", "058": "0258", "068": "0259",  # Phú Yên, Khánh Hòa, Ninh Thuận
    "060": "0260", "0501": "0261", "0500": "0262", "063": "0263", "059": "0269",  # Kon Tum..Gia Lai
    "070": "0270", "0651": "0271", "072": "0272", "073": "0273", "0650": "0274",  # Vĩnh Long..Bình Dương
    "075": "0275", "066": "0276", "067": "0277",  # Bến Tre, Tây Ninh, Đồng Tháp
    "0780": "0290", "0781": "0291", "0710": "0292", "0711": "0293", "074": "0294",  # Cà Mau..Trà Vinh
    "076": "0296", "077": "0297", "079": "0299",  # An Giang, Kiên Giang, Sóc Trăng
}  # fmt: skip

_MOBILE = re.compile(r"0(?:3[2-9]|5[25689]|7[06-9]|8[1-9]|9\d)\d{7}")
_LANDLINE = re.compile(r"02\d{9}")
_NOT_DIGIT = re.compile(r"\D")


@dataclass(frozen=True, slots=True)
class Phone:
    number: str  # national form with leading 0 (10 digits mobile, 11 landline); digits as given if invalid
    kind: PhoneKind


def _national(digits: str) -> str:
    for prefix in ("0084", "84"):
        if digits.startswith(prefix) and len(digits) - len(prefix) in (9, 10):
            return "0" + digits[len(prefix) :]
    if not digits.startswith("0") and len(digits) in (9, 10):
        return "0" + digits  # a leading 0 lost to a numeric column
    return digits


@lru_cache(maxsize=65536)
def normalise_phone(raw: str | None) -> Phone | None:
    """National number and kind; None for an empty field. Several numbers: the first is used."""
    if raw is None:
        return None
    first = re.split(r"[;,/]", raw, maxsplit=1)[0]
    digits = _NOT_DIGIT.sub("", first)
    if not digits:
        return None
    number = _national(digits)
    if len(number) == 11 and number[:4] in MOBILE_2018:
        number = MOBILE_2018[number[:4]] + number[4:]
    if _MOBILE.fullmatch(number):
        return Phone(number, "mobile")
    if _LANDLINE.fullmatch(number) and number[:4] not in LANDLINE_2017:
        return Phone(number, "landline")
    for length in (4, 3, 2):
        old = number[:length]
        new = LANDLINE_2017.get(old)
        if new is not None and len(number) - length + len(new) == 11:
            return Phone(new + number[length:], "landline")
    return Phone(number, "invalid")
