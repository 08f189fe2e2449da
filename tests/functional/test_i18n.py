"""Every marked string has its Chinese, and the language is picked as documented.

The scan covers every template under app/templates (all areas) and every ``_("...")``,
``gettext("...")`` and ``N_("...")`` call in the Python of app/, because by the end every
user-facing string must be translated, whoever wrote it.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from app.errors import TITLES
from app.i18n import CATALOG
from tests.factories import grant, make_body

APP_DIR = Path(__file__).resolve().parents[2] / "app"
# A translation call whose first argument is a plain string literal, e.g. _("Search") or
# gettext('Page {page}', page=n). Calls with a variable (_(title)) cannot be checked here.
MARKED = re.compile(
    r"""(?<![\w])(?:_|gettext|N_)\(\s*(?P<literal>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*[,)]"""
)


def marked_strings(path: Path) -> list[tuple[int, str]]:
    """(line, message) of each translation call with a literal message in ``path``."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in MARKED.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append((line, ast.literal_eval(match.group("literal"))))
    return found


def sources() -> list[Path]:
    templates = sorted((APP_DIR / "templates").rglob("*.html"))
    python = sorted(p for p in APP_DIR.rglob("*.py") if "catalog" not in p.parts)
    return templates + python


def placeholders(message: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(message) if name}


def test_the_scanner_finds_literals_and_skips_variables(tmp_path: Path) -> None:
    sample = tmp_path / "sample.html"
    sample.write_text(
        """{{ _("Search") }} {{ _('Page {page}', page=1) }} {{ _(title) }} {{ x_("no") }}\n"""
        """{{ _("identifier:" ~ scheme) }} gettext("Sign in") N_("Active")""",
        encoding="utf-8",
    )
    assert [m for _line, m in marked_strings(sample)] == ["Search", "Page {page}", "Sign in", "Active"]


def test_every_marked_string_has_a_chinese_translation() -> None:
    missing = sorted(
        f"{path.relative_to(APP_DIR.parent)}:{line}: {message!r}"
        for path in sources()
        for line, message in marked_strings(path)
        if not CATALOG.get(message)
    )
    assert not missing, "strings without a Chinese entry in app/catalog:\n" + "\n".join(missing)


def test_the_scan_reaches_every_area() -> None:
    scanned = {str(p.relative_to(APP_DIR)) for p in sources() if marked_strings(p)}
    assert {"templates/base.html", "templates/public/list.html", "templates/public/body.html"} <= scanned
    assert "public/__init__.py" in scanned


def test_no_two_catalogs_translate_a_message_differently() -> None:
    """Catalogs merge into one table: the same English with two Chinese texts would make one
    area's page say what the other area meant, depending on the merge order."""
    import importlib
    import pkgutil

    import app.catalog as catalog_package

    first: dict[str, tuple[str, str]] = {}
    clashes = []
    for info in pkgutil.iter_modules(catalog_package.__path__):
        module = importlib.import_module(f"app.catalog.{info.name}")
        for english, chinese in getattr(module, "ZH", {}).items():
            earlier = first.setdefault(english, (info.name, chinese))
            if earlier[1] != chinese:
                clashes.append((english, earlier, (info.name, chinese)))
    assert not clashes, clashes


def test_error_titles_are_translated() -> None:
    # error.html shows _(title) with a variable, so the scan cannot see these.
    assert [title for title in TITLES.values() if not CATALOG.get(title)] == []


def test_translations_keep_the_placeholders() -> None:
    wrong = {en: zh for en, zh in CATALOG.items() if placeholders(en) != placeholders(zh)}
    assert wrong == {}


def _lang_of(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match
    return match.group(1)


@pytest.fixture
def one_body(session, now):  # type: ignore[no-untyped-def]
    body = make_body(session, now, name_zh="北京口罩认证中心", name_en="Beijing Mask Certification Centre")
    grant(session, now, body)
    session.commit()
    return body


def test_chinese_is_the_default_without_accept_language(client, one_body) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/bodies")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _lang_of(html) == "zh-CN"
    assert response.headers["Content-Language"] == "zh-CN"
    assert "<h1>认证机构</h1>" in html
    assert "北京口罩认证中心" in html
    assert ">有效<" in html  # the status badge
    assert "Certification bodies" not in html


def test_lang_en_switches_to_english_and_the_cookie_remembers_it(client, one_body) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/bodies?lang=en")
    html = response.get_data(as_text=True)
    assert _lang_of(html) == "en"
    assert "<h1>Certification bodies</h1>" in html
    assert ">Active<" in html
    assert "lang=en" in response.headers["Set-Cookie"]
    # No ?lang= now: the cookie keeps English, on another page too.
    follow = client.get(f"/bodies/{one_body.code}")
    assert _lang_of(follow.get_data(as_text=True)) == "en"
    assert "Status history" in follow.get_data(as_text=True)
    # And ?lang=zh switches back and replaces the cookie.
    back = client.get("/labs?lang=zh")
    assert _lang_of(back.get_data(as_text=True)) == "zh-CN"
    assert _lang_of(client.get("/").get_data(as_text=True)) == "zh-CN"


def test_accept_language_english_picks_english(client, one_body) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/bodies", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert _lang_of(response.get_data(as_text=True)) == "en"
    assert "Accept-Language" in response.headers["Vary"]
    chinese_first = client.get("/bodies", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert _lang_of(chinese_first.get_data(as_text=True)) == "zh-CN"
    explicit = client.get("/bodies?lang=zh", headers={"Accept-Language": "en"})
    assert _lang_of(explicit.get_data(as_text=True)) == "zh-CN"


def test_an_unknown_lang_value_falls_back_instead_of_failing(client, one_body) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/bodies/{one_body.code}?lang=fr")
    # Not a supported language: the page says so (422) in the default language.
    assert response.status_code == 422
    assert _lang_of(response.get_data(as_text=True)) == "zh-CN"
    assert "“fr”" in response.get_data(as_text=True)


def test_the_language_switch_keeps_the_path_and_filters(client, one_body) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/bodies?category=mask&province=11&lang=zh").get_data(as_text=True)
    match = re.search(r'<a href="([^"]+)"[^>]*id="lang-en"', html)
    assert match
    link = match.group(1).replace("&amp;", "&")
    assert link.startswith("/bodies?")
    assert "category=mask" in link and "province=11" in link and "lang=en" in link
    assert "lang=zh" not in link


def test_every_public_page_is_fully_chinese_by_default(client, one_body) -> None:  # type: ignore[no-untyped-def]
    english_labels = ["Scope", "Status history", "Change history", "Category", "Search", "Download", "Filter"]
    for path in ("/", "/bodies", "/labs", f"/bodies/{one_body.code}", "/no-such-page"):
        html = client.get(path).get_data(as_text=True)
        visible = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", "", html, flags=re.S))
        leaked = [label for label in english_labels if re.search(rf"(?<![\w-]){label}(?![\w-])", visible)]
        assert leaked == [], f"{path} shows English labels {leaked} in Chinese"


def test_templates_compiled_per_language_fold_only_plain_literal_calls(app) -> None:  # type: ignore[no-untyped-def]
    from app.i18n import CATALOG, translated_environment

    source = (
        '{{ _("Certificate number") }}|{{ _("Latest change: entry #{index}", index=7) }}|'
        '{{ obj._("Certificate number") }}|{% set word = _("Certificate") %}{{ word }}|'
        '{{ "x"|_("Certificate") }}'
    )

    class Obj:
        @staticmethod
        def _(text: str) -> str:
            return f"method:{text}"

    for language in ("zh", "en"):
        environment = translated_environment(app, language)
        environment.filters["_"] = lambda value, text: f"filter:{value}:{text}"
        with app.test_request_context(f"/?lang={language}"):
            rendered = environment.from_string(source).render(obj=Obj())
        del environment.filters["_"]
        first, with_values, method, word, as_filter = rendered.split("|")
        assert as_filter == "filter:x:Certificate"  # a filter named _ is left alone
        if language == "zh":
            assert first == CATALOG["Certificate number"] and word == CATALOG["Certificate"]
            assert with_values == CATALOG["Latest change: entry #{index}"].format(index=7)
        else:
            assert (first, word) == ("Certificate number", "Certificate")
            assert with_values == "Latest change: entry #7"
        assert method == "method:Certificate number"  # a method named _ is left alone
    assert translated_environment(app, "zh") is translated_environment(app, "zh")  # one per language
