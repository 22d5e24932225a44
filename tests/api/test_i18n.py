"""The message catalogue: every key a page uses exists in Vietnamese and English."""

from __future__ import annotations

import re
from pathlib import Path

from api.web import i18n

TEMPLATES = Path(i18n.__file__).parent / "templates"
KEY = re.compile(r"""\bt\(\s*'([a-zA-Z0-9_.]*[a-zA-Z0-9_])'""")
PREFIXED = re.compile(r"""\bt\(\s*'([a-z_]+\.)'\s*~""")


def test_every_key_used_by_a_template_exists_in_every_language() -> None:
    used, prefixes = set(), set()
    for template in TEMPLATES.glob("*.html"):
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
