"""Chinese and English. English text is the message key; ``app/catalog/*.py`` give the Chinese.

The language comes from ``?lang=`` (remembered in a cookie), then the cookie, then the
browser's Accept-Language; Chinese is the default.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from flask import Flask, g, request
from jinja2 import Environment
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from markupsafe import escape
from werkzeug.wrappers import Response

import app.catalog as catalog_package

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
COOKIE = "lang"


def load_catalog() -> dict[str, str]:
    """Merge every ``ZH`` dict of the modules in ``app.catalog`` (English -> Chinese)."""
    merged: dict[str, str] = {}
    for module_info in pkgutil.iter_modules(catalog_package.__path__):
        module = importlib.import_module(f"app.catalog.{module_info.name}")
        merged.update(getattr(module, "ZH", {}))
    return merged


CATALOG = load_catalog()


def current_language() -> str:
    """The request's language, decided once per request (pages ask for it dozens of times)."""
    decided: str | None = g.get("lang")
    if decided is not None:
        return decided
    # The raw headers first: parsing an empty query string or cookie header still costs, on
    # every scan of a seal.
    environ = request.environ
    lang: str | None = None
    if environ.get("QUERY_STRING"):
        asked = request.args.get("lang")
        if asked in LANGUAGES:
            lang = asked
    if lang is None and environ.get("HTTP_COOKIE"):
        remembered = request.cookies.get(COOKIE)
        if remembered in LANGUAGES:
            lang = remembered
    if lang is None:
        accepted = environ.get("HTTP_ACCEPT_LANGUAGE")
        lang = (request.accept_languages.best_match(LANGUAGES) if accepted else None) or DEFAULT_LANGUAGE
    g.lang = lang
    return lang


def gettext(message: str, **values: Any) -> str:
    """Translate ``message`` into the request's language, then fill ``{placeholders}``."""
    text = CATALOG.get(message, message) if current_language() == "zh" else message
    return text.format(**values) if values else text


def _translate_zh(message: str, **values: Any) -> str:
    text = CATALOG.get(message, message)
    return text.format(**values) if values else text


def _translate_en(message: str, **values: Any) -> str:
    return message.format(**values) if values else message


TRANSLATORS = {"zh": _translate_zh, "en": _translate_en}


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it now (for module-level tables).

    The i18n test collects the literals given to ``N_`` as it does those given to ``_``, so a
    label kept in a Python table still has to have its Chinese in a catalog.
    """
    return message


def localized(obj: Any, field: str = "name", language: str | None = None) -> str:
    """Pick ``obj.<field>_zh`` or ``obj.<field>_en`` by ``language`` (the request's by default),
    falling back to the other."""
    zh = getattr(obj, f"{field}_zh", "") or ""
    en = getattr(obj, f"{field}_en", "") or ""
    if (language or current_language()) == "zh":
        return zh or en
    return en or zh


def language_url(lang: str) -> str:
    """The current URL with ``lang`` set, for the switch on every page (filters are kept)."""
    if not request.args:  # the common case, and cheap: every page shows the switch
        return f"{request.path}?lang={lang}"
    args = request.args.to_dict(flat=False)
    args["lang"] = [lang]
    return request.path + "?" + urlencode(args, doseq=True)


def language_urls() -> dict[str, str]:
    """:func:`language_url` for every language, reading the request once (the seal page)."""
    if not request.args:
        path = request.path
        return {lang: f"{path}?lang={lang}" for lang in LANGUAGES}
    return {lang: language_url(lang) for lang in LANGUAGES}


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        _=gettext,
        localized=localized,
        language_url=language_url,
        current_language=current_language,
        LANGUAGES=LANGUAGES,
    )

    @app.context_processor
    def bound_gettext() -> dict[str, Any]:
        # The language is decided once per render: ``_`` in a page is then a plain lookup, not
        # two context-local reads per string (the seal page, rendered on every scan, has dozens).
        return {"_": TRANSLATORS[current_language()]}

    @app.after_request
    def remember_language(response: Response) -> Response:
        if request.environ.get("QUERY_STRING"):
            asked = request.args.get("lang")
            if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
                response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
        lang = g.get("lang")
        if lang is not None:
            headers = response.headers
            headers["Content-Language"] = "zh-CN" if lang == "zh" else "en"
            if "Vary" in headers:
                response.vary.add("Accept-Language")
            else:  # the common case, without parsing and rebuilding a header set
                headers["Vary"] = "Accept-Language"
        return response


class _FoldTranslations(Extension):
    """Replace each call of ``_`` on one string literal and nothing else by the translation, when
    a template is compiled: the text is then part of the compiled template (escaped once, at
    compile time) and costs nothing per render. Calls with values to fill in stay calls. A
    template compiled this way must not bind another value to the name ``_``."""

    language = DEFAULT_LANGUAGE

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        translate = TRANSLATORS[self.language]
        tokens = list(stream)
        index = 0
        while index < len(tokens):
            token = tokens[index]
            window = tokens[index : index + 4]
            if (
                len(window) == 4
                and token.test("name:_")
                # not a method called _, nor a filter or test of that name
                and (index == 0 or not tokens[index - 1].test_any("dot", "pipe", "name:is"))
                and window[1].type == "lparen"
                and window[2].type == "string"
                and window[3].type == "rparen"
            ):
                yield Token(token.lineno, "string", self.text(translate(window[2].value)))
                index += 4
                continue
            yield token
            index += 1

    def text(self, translation: str) -> str:
        """The text that replaces a call (autoescaping escapes it when the page is compiled)."""
        return translation


class _FoldEscapedTranslations(_FoldTranslations):
    """:class:`_FoldTranslations` for a template compiled without autoescaping, whose values come
    escaped (:func:`escaping_translated_environment`): the texts are escaped as they are folded,
    as autoescaping would have escaped them. Only for texts the page prints."""

    def text(self, translation: str) -> str:
        return str(escape(translation))


def translated_environment(app: Flask, language: str) -> Environment:
    """``app``'s Jinja environment with :class:`_FoldTranslations` for ``language`` (one overlay
    per language, sharing globals, filters and loader; its compiled templates are its own)."""
    return _overlay(app, language, _FoldTranslations, autoescape=True)


def escaping_translated_environment(app: Flask, language: str) -> Environment:
    """:func:`translated_environment` without autoescaping, for a page whose every value its view
    escapes before rendering (``app.escaping.escaped``): the seal page, the one every scan opens."""
    return _overlay(app, language, _FoldEscapedTranslations, autoescape=False)


def _overlay(app: Flask, language: str, base: type[_FoldTranslations], *, autoescape: bool) -> Environment:
    key = f"jinja_env_{language}" if autoescape else f"jinja_env_{language}_unescaped"
    environment: Environment | None = app.extensions.get(key)
    if environment is None:
        fold = type(f"{base.__name__.lstrip('_')}_{language}", (base,), {"language": language})
        unescaped: dict[str, Any] = {} if autoescape else {"autoescape": False}
        environment = app.extensions[key] = app.jinja_env.overlay(extensions=[fold], **unescaped)
    return environment
