"""Every message the pages use has an English translation in the one catalogue."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from cityops.web import templating

ROOT = Path(__file__).resolve().parents[2]


def _used_messages() -> set[str]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(
        str(ROOT / "src" / "cityops"), method_map, options_map, keywords={"_": None, "t": None, "N_": None}
    )
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}


def test_every_page_message_has_english() -> None:
    with (templating.LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string}
    missing = sorted(_used_messages() - translated)
    assert not missing, f"add English for these to web/locale/en/LC_MESSAGES/messages.po: {missing}"


def test_translation_and_placeholders() -> None:
    assert templating.t("共 %(n)s 条", "en", n=3) == "3 in total"
    assert templating.t("共 %(n)s 条", "zh-CN", n=3) == "共 3 条"
    assert templating.working_duration(-3 * 3600) == templating.t("超时 %(x)s", x="3 小时 0 分")


def test_state_and_action_names_have_english() -> None:
    from cityops.cases.transitions import STATE_NAMES_ZH, TRANSITIONS

    for zh in [*STATE_NAMES_ZH.values(), *(t.zh for t in TRANSITIONS)]:
        assert templating.t(zh, "en") != zh, zh
