"""The message catalogue: every key a page uses exists in Vietnamese and English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.web import i18n

TEMPLATES = Path(i18n.__file__).parent / "templates"
KEY = re.compile(r"""\bt\(\s*'([a-zA-Z0-9_.]*[a-zA-Z0-9_])'""")
PREFIXED = re.compile(r"""\bt\(\s*'([a-z_]+\.)'\s*~""")


def test_every_key_used_by_a_template_exists_in_every_language() -> None:
    used, prefixes = set(), set()
    for template in [*TEMPLATES.glob("*.html"), *TEMPLATES.glob("admin/*.html")]:
        text = template.read_text(encoding="utf-8")
        used |= set(KEY.findall(text))
        prefixes |= set(PREFIXED.findall(text))
    assert used, "no t('...') calls found"
    missing = sorted(k for k in used if k not in i18n.MESSAGES)
    assert missing == []
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in i18n.MESSAGES), prefix
    for key, texts in i18n.MESSAGES.items():
        assert set(texts) == set(i18n.LANGUAGES) and all(texts.values()), key


def test_vietnamese_is_the_default_and_fields_are_filled() -> None:
    assert i18n.gettext("vi", "sensitive.withheld", n=2) == "Có 2 lượt khám chứa dữ liệu nhạy cảm đã được ẩn."
    assert i18n.gettext("fr", "nav.search") == "Tìm người bệnh"
    assert i18n.gettext("en", "nav.search") == "Find a patient"


ATTR = re.compile(r"""\bt\.([a-z_][a-z0-9_]*)\b(?!\()""")
ITEM = re.compile(r"""\bt\[["']([a-z_0-9]+)["']\]""")


@pytest.mark.parametrize(
    ("prefix", "templates", "code"),
    [
        ("steward", sorted(TEMPLATES.glob("steward/*.html")), Path(i18n.__file__).parent / "steward.py"),
        ("reports", sorted(TEMPLATES.glob("reports*.html")), Path(i18n.__file__).parent / "reports.py"),
    ],
)
def test_the_steward_and_reports_pages_read_the_same_catalogue(prefix: str, templates: list[Path], code: Path) -> None:
    used = {k for t in templates for k in ATTR.findall(t.read_text(encoding="utf-8")) if k != "get"}
    used |= set(ITEM.findall(code.read_text(encoding="utf-8")))
    assert used
    for lang in i18n.LANGUAGES:
        assert sorted(used - set(i18n.section(lang, prefix))) == [], lang
    assert i18n.section("vi", "steward")["sign_in"] == i18n.CATALOGUE["vi"]["steward.sign_in"] == "Đăng nhập"


def test_one_table_per_language_with_the_same_keys() -> None:
    assert set(i18n.CATALOGUE) == set(i18n.LANGUAGES)
    assert set(i18n.CATALOGUE["vi"]) == set(i18n.CATALOGUE["en"])
    assert not list(Path(i18n.__file__).parent.glob("steward_text.py"))
