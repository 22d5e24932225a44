"""Names: mojibake repair, cleaning, tokens, Thị/Văn, folding and match keys. Invented names only."""

import unicodedata

import pytest

from linkage.normalise.mojibake import repair_mojibake, repair_vni_typing
from linkage.normalise.names import normalise_name
from linkage.normalise.text import fold_ascii


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("NguyÔn V¨n An", "Nguyễn Văn An", id="tcvn3-mixed-case"),
        pytest.param("NGUYÔN V¡N AN", "NGUYỄN VĂN AN", id="tcvn3-upper-font"),
        pytest.param("TrÇn ThÞ H\xad¬ng", "Trần Thị Hương", id="tcvn3-soft-hyphen-u-horn"),
        pytest.param("§Æng Thïy Tr©m", "Đặng Thùy Trâm", id="tcvn3-d-stroke"),
        pytest.param("Hå ChÝ Minh", "Hồ Chí Minh", id="tcvn3-one-capital-word"),
        pytest.param("Ng« Quèc B¶o", "Ngô Quốc Bảo", id="tcvn3-o-circumflex"),
        pytest.param("Lª Thµnh Nam", "Lê Thành Nam", id="tcvn3-e-circumflex"),
        pytest.param("Nguyeãn Vaên An", "Nguyễn Văn An", id="vni-lower"),
        pytest.param("NGUYEÃN THÒ HÖÔNG", "NGUYỄN THỊ HƯƠNG", id="vni-upper"),
        pytest.param("Buøi Thò Xuaân", "Bùi Thị Xuân", id="vni-ambiguous-bytes"),
        pytest.param("Ñaëng Thuøy Traâm", "Đặng Thùy Trâm", id="vni-d-stroke"),
        pytest.param("Phaïm Ngoïc AÙnh", "Phạm Ngọc Ánh", id="vni-capital-a-acute"),
        pytest.param("Hoaøng Vaên Thuï", "Hoàng Văn Thụ", id="vni-hoang"),
    ],
)
def test_repair_mojibake_repairs_legacy_encodings(raw: str, expected: str) -> None:
    assert repair_mojibake(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Nguyễn Văn An", id="nfc"),
        pytest.param("NGUYỄN THỊ MINH KHAI", id="nfc-upper"),
        pytest.param("Bùi Thị Xuân", id="u-grave-is-vietnamese"),
        pytest.param("Hoà Tuân Khoá", id="old-style-tone-placement"),
        pytest.param("Lê Thị Ánh Tuyết", id="capital-a-acute"),
        pytest.param("Trần Quốc Toản", id="quoc"),
        pytest.param("Võ Thị Sáu", id="o-tilde"),
        pytest.param("José Martín", id="foreign-latin"),
        pytest.param("NGUYEN VAN AN", id="ascii"),
    ],
)
def test_repair_mojibake_leaves_correct_text_alone(text: str) -> None:
    assert repair_mojibake(text) == text


def test_repair_mojibake_turns_nfd_into_the_same_nfc_text() -> None:
    nfd = unicodedata.normalize("NFD", "Phạm Thị Thu Hường")
    assert nfd != "Phạm Thị Thu Hường"
    assert repair_mojibake(nfd) == "Phạm Thị Thu Hường"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("Nguye64n Va8n An", "Nguyễn Văn An", id="tone-after-vowel"),
        pytest.param("Nguyen64", "Nguyễn", id="marks-at-word-end"),
        pytest.param("Tra62n Thi5 Hu7o7ng", "Trần Thị Hương", id="horn-twice"),
        pytest.param("Tra62n Thi5 Huo7ng", "Trần Thị Hương", id="horn-once-uo"),
        pytest.param("D9a85ng Thu2y Tra6m", "Đặng Thùy Trâm", id="d9-breve-dot"),
        pytest.param("Ngo6 Quo61c Ba3o", "Ngô Quốc Bảo", id="qu-onset"),
        pytest.param("Lê Văn Tám", "Lê Văn Tám", id="no-digits-unchanged"),
    ],
)
def test_repair_vni_typing(raw: str, expected: str) -> None:
    assert repair_vni_typing(raw) == expected


@pytest.mark.parametrize(
    ("raw", "full", "family", "middle", "given", "middle_core"),
    [
        pytest.param(
            "NGUYỄN THỊ MINH KHAI",
            "NGUYỄN THỊ MINH KHAI",
            "NGUYỄN",
            ("THỊ", "MINH"),
            "KHAI",
            ("MINH",),
            id="thi-dropped-from-core",
        ),
        pytest.param(
            "  trần   văn  bình ", "TRẦN VĂN BÌNH", "TRẦN", ("VĂN",), "BÌNH", (), id="case-and-spaces"
        ),
        pytest.param("Lê Hoa", "LÊ HOA", "LÊ", (), "HOA", (), id="two-tokens"),
        pytest.param("Hà", "HÀ", None, (), "HÀ", (), id="single-token-is-given"),
        pytest.param(
            "Phạm.Thị-Lan (BN)",
            "PHẠM THỊ-LAN BN",
            "PHẠM",
            ("THỊ-LAN",),
            "BN",
            ("THỊ-LAN",),
            id="punctuation-to-space-hyphen-kept",
        ),
        pytest.param("NguyÔn ThÞ Hoa", "NGUYỄN THỊ HOA", "NGUYỄN", ("THỊ",), "HOA", (), id="tcvn3-repaired"),
        pytest.param(
            "Nguye64n Va8n Hu2ng", "NGUYỄN VĂN HÙNG", "NGUYỄN", ("VĂN",), "HÙNG", (), id="vni-typing"
        ),
        pytest.param(
            unicodedata.normalize("NFD", "Đỗ Thị Thủy"),
            "ĐỖ THỊ THỦY",
            "ĐỖ",
            ("THỊ",),
            "THỦY",
            (),
            id="nfd-input",
        ),
    ],
)
def test_normalise_name_tokens(
    raw: str, full: str, family: str | None, middle: tuple[str, ...], given: str, middle_core: tuple[str, ...]
) -> None:
    parts = normalise_name(raw)
    assert parts is not None
    assert (parts.full, parts.family, parts.middle, parts.given, parts.middle_core) == (
        full,
        family,
        middle,
        given,
        middle_core,
    )


@pytest.mark.parametrize(
    ("raw", "ascii_form", "key", "given_ascii"),
    [
        pytest.param("Nguyễn Thị Tường Vy", "NGUYEN THI TUONG VY", "NGUYEN THI TUONG VI", "VY", id="vy-vi"),
        pytest.param("Đặng Văn Đức", "DANG VAN DUC", "DANG VAN DUC", "DUC", id="d-stroke"),
        pytest.param("Huỳnh Thị Mỹ", "HUYNH THI MY", "HOANG THI MI", "MY", id="huynh-hoang-my-mi"),
        pytest.param("Võ Văn Kiệt", "VO VAN KIET", "VU VAN KIET", "KIET", id="vo-vu"),
        pytest.param("Trần Quang Huy", "TRAN QUANG HUY", "TRAN QUANG HUY", "HUY", id="uy-not-unified"),
        pytest.param("Lý Thị Thúy", "LY THI THUY", "LI THI THUY", "THUY", id="ly-li"),
    ],
)
def test_name_folding_and_key(raw: str, ascii_form: str, key: str, given_ascii: str) -> None:
    parts = normalise_name(raw)
    assert parts is not None
    assert (parts.ascii, parts.key, parts.given_ascii) == (ascii_form, key, given_ascii)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="none"),
        pytest.param("  ", id="blank"),
        pytest.param("...", id="punctuation-only"),
    ],
)
def test_normalise_name_empty(raw: str | None) -> None:
    assert normalise_name(raw) is None


def test_tone_placement_variants_share_the_key() -> None:
    a, b = normalise_name("Nguyễn Thị Thủy"), normalise_name("Nguyễn Thị Thuỷ")
    assert a is not None and b is not None
    assert a.full != b.full
    assert a.key == b.key == "NGUYEN THI THUY"


def test_thi_van_added_or_dropped_gives_equal_core() -> None:
    with_thi, without = normalise_name("Trần Thị Ngọc Anh"), normalise_name("Trần Ngọc Anh")
    assert with_thi is not None and without is not None
    assert with_thi.middle_core == without.middle_core == ("NGỌC",)
    assert (with_thi.has_gendered_middle, without.has_gendered_middle) == (True, False)


def test_fold_ascii_keeps_case() -> None:
    assert fold_ascii("Đoàn Thị Ánh Nguyệt") == "Doan Thi Anh Nguyet"
