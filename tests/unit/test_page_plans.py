"""A page rendered from plans reads exactly as its template rendered by Jinja with autoescaping."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import DictLoader, Environment
from markupsafe import Markup

from app.page_plans import MAX_SHAPES, PagePlans, UnplannableTemplate

# A string constant is printed as it is without autoescaping (the seal page escapes its texts when
# it is compiled, app.i18n): so none here has anything to escape.
PAGE = """<!doctype html><title>{{ title }} · {{ "Fixed {braces}" }}</title>{{ style }}
<p class="{{ tone }}">{{ first }}{% if detail %} · <code>{{ detail }}</code>{% endif %}</p>
{% if certificate %}<table><td>{{ number }}</td>
  {% if not holder_code %}<td>no code</td>{% else %}<td>{{ holder_code }}</td>{% endif %}
  {% if log_index is not none %}<a href="/log?index={{ log_index }}">#{{ log_index }}</a>{% endif %}
</table>{% elif claims and not certificate %}<p>{{ number }} claimed</p>{% else %}<p>nothing</p>{% endif %}
{% if report_url or detail %}<a href="{{ report_url }}">report</a>{% endif %}{{ trailing }}"""

NAMES = ("title", "tone", "first", "detail", "certificate", "number", "holder_code", "log_index",
         "claims", "report_url", "trailing")  # fmt: skip
STYLE = Markup("<style>p { color: red; }</style>")


def environments(source: str = PAGE) -> tuple[Environment, Environment]:
    """(the plans' environment, without autoescaping; the reference one, autoescaping)."""
    loader = DictLoader({"page.html": source})
    plain = Environment(loader=loader, autoescape=False)  # noqa: S701  # the plans escape, as the seal page does
    return plain, Environment(loader=loader, autoescape=True)


def both(values: dict[str, Any], source: str = PAGE) -> tuple[str, str]:
    plain, escaping = environments(source)
    plans = PagePlans(plain.get_template("page.html"), {"style": STYLE})
    return plans.render(values), escaping.get_template("page.html").render(values, style=STYLE)


VALUES = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.text(alphabet="&<>'\"{}a中\x00\x01", max_size=8),
    st.integers(-2, 2),
    st.booleans(),
    st.just(Markup("<b>safe</b>")),
)


@given(st.dictionaries(st.sampled_from(NAMES), VALUES))
def test_any_values_render_as_jinja_autoescaping_renders_them(values: dict[str, Any]) -> None:
    """Every shape (None, false, true or missing, for each tested value), texts to escape, braces,
    markers' own characters, integers, Markup: the same page."""
    planned, reference = both(values)
    assert planned == reference


def test_a_plan_is_built_once_per_shape_and_reused() -> None:
    plain, _ = environments()
    plans = PagePlans(plain.get_template("page.html"))
    first = {"certificate": True, "number": "A-1", "holder_code": "", "log_index": "7", "detail": ""}
    plans.render(first)
    plans.render({**first, "number": "B-2", "log_index": "0"})
    plans.render({**first, "holder_code": "X"})  # another shape
    assert plans.tested == ("certificate", "claims", "detail", "holder_code", "log_index", "report_url")
    assert len(plans._plans) == 2
    for n in range(MAX_SHAPES + 1):  # bounded, however many shapes come
        plans.render({"detail": "d" if n % 2 else None, "certificate": n % 3 or None, "claims": n})
    assert len(plans._plans) <= MAX_SHAPES


def test_a_missing_value_prints_nothing_and_a_none_prints_none() -> None:
    planned, reference = both({"certificate": True, "log_index": None, "number": None})
    assert planned == reference and "<td>None</td>" in planned and "<title> · " in planned


@pytest.mark.parametrize(
    ("source", "construct"),
    [
        ("{{ name|upper }}", "Filter on line 1"),
        ("{{ name.attribute }}", "Getattr on line 1"),
        ("{{ _('text', n=1) }}", "Call on line 1"),
        ("\n{% for item in items %}{{ item }}{% endfor %}", "For on line 2"),
        ("{% set x = 1 %}", "Assign on line 1"),
        ("{% if count > 1 %}many{% endif %}", "Compare on line 1"),
        ("{% if name is defined %}{% endif %}", "Test on line 1"),
        ("{{ 1 + 2 }}", "Add on line 1"),
    ],
)
def test_a_template_that_does_more_than_place_and_test_values_is_refused(source: str, construct: str) -> None:
    plain, _ = environments(source)
    with pytest.raises(UnplannableTemplate, match=construct):
        PagePlans(plain.get_template("page.html"))


def test_only_a_template_compiled_without_autoescaping_and_constants_never_tested() -> None:
    _, escaping = environments()
    with pytest.raises(UnplannableTemplate, match="without autoescaping"):
        PagePlans(escaping.get_template("page.html"))
    plain, _ = environments()
    with pytest.raises(UnplannableTemplate, match=r"constants may not be tested: \['detail'\]"):
        PagePlans(plain.get_template("page.html"), {"detail": Markup("x")})
