"""Unicode damage in names and addresses: zero-width characters, soft hyphens, fullwidth forms and UTF-8
read as cp1252 are cleaned the same way for linking and for search (both call ``normalise_name``)."""

from __future__ import annotations

import pytest

from linkage.normalise.address import fold_address
from linkage.normalise.mojibake import clean_unicode, repair_utf8_as_cp1252
from linkage.normalise.names import normalise_name


@pytest.mark.parametrize(
    "damaged",
    [
        "Hoàng Văn\u200b Nam",  # zero-width space
        "Hoà\u00adng Văn Nam",  # soft hyphen
        "\ufeffHoàng Văn Nam\u200d",  # BOM, zero-width joiner
        "Ｈｏàｎｇ Ｖăｎ Ｎａｍ",  # fullwidth letters
        "HoÃ\u00a0ng VÄƒn Nam",  # UTF-8 read as cp1252
        "HoÃ ng VÄƒn Nam",  # ... with the non-breaking space turned into a space
    ],
)
def test_damaged_names_normalise_like_the_clean_one(damaged: str) -> None:
    clean = normalise_name("Hoàng Văn Nam")
    assert clean is not None
    assert normalise_name(damaged) == clean


def test_utf8_read_as_cp1252_is_repaired_and_correct_text_is_left_alone() -> None:
    assert repair_utf8_as_cp1252("Nguyá»…n Thá»‹ Ã\x81nh") == "Nguyễn Thị Ánh"
    for correct in ("Nguyễn Thị Ánh", "José Ángel", "Ông Ân", "Ã", "ASCII only"):
        assert repair_utf8_as_cp1252(correct) == correct
        assert clean_unicode(correct) == correct


def test_addresses_drop_invisible_characters_and_fold_fullwidth_digits() -> None:
    assert fold_address("Tổ\u200b 3, phường Phú\u00ad Cường") == fold_address("Tổ 3, phường Phú Cường")
    assert fold_address("Số １２ Lê Lợi") == "SO 12 LE LOI"
