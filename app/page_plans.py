"""A page rendered from plans: its template's fixed text, worked out once per shape, with the
values put in between.

The seal page is rendered on every scan, and rendering it with Jinja cost about a tenth of the
whole request (measured under callgrind: 276 k of 2.97 M instructions), most of it looking up,
escaping and printing each value in turn. Its template only places values and tests them
(``{% if x %}``, ``{% if not x %}``, ``{% if x is not none %}``, and ``and`` / ``or`` of those),
so what it prints around its values is fixed once it is known which tested values are None,
false, true or missing: the page's *shape*. :class:`PagePlans` renders the template once per
shape, with markers standing for the values, through Jinja itself (so the fixed text is exactly
Jinja's), and keeps the fixed texts between the markers; a render then fetches the values in one
call, escapes them as autoescaping would (``app.escaping``), and joins them with the fixed texts.

A template that does more than that (a filter, a call, a loop, an assignment) cannot be planned:
:class:`PagePlans` refuses it with :class:`UnplannableTemplate` naming the construct, and the
caller renders it with Jinja. The values are those a page context holds: texts, None, booleans,
integers and Markup (printed as it is).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import repeat
from operator import itemgetter
from typing import Any

from jinja2 import Template, nodes
from markupsafe import Markup

from app.escaping import SPECIAL, escaped

_SLOT = re.compile("\x00([A-Za-z_][A-Za-z0-9_]*)\x01")
# The states a tested value can be in: together they decide every test the template can make.
_NONE, _FALSE, _TRUE, _MISSING = range(4)
_ABSENT = object()
_TEXTS_ONLY = frozenset({str})
MAX_SHAPES = 64  # a page has a handful; a bound all the same, the plans are kept per process


class UnplannableTemplate(Exception):
    """The template does more than place and test values."""


class _Marker:
    """Stands for a value while a shape is rendered: prints as its slot's marker, and is as true
    as the shape says."""

    __slots__ = ("name", "truth")

    def __init__(self, name: str, truth: bool) -> None:
        self.name = name
        self.truth = truth

    def __str__(self) -> str:
        return f"\x00{self.name}\x01"

    def __bool__(self) -> bool:
        return self.truth


def _variables(template: nodes.Template) -> tuple[tuple[str, ...], frozenset[str]]:
    """(names the template tests, names it prints); UnplannableTemplate for anything else."""
    tested: set[str] = set()
    printed: set[str] = set()

    def refuse(node: nodes.Node) -> UnplannableTemplate:
        what = type(node).__name__
        return UnplannableTemplate(f"{what} on line {node.lineno}: not a value placed or tested")

    def test(node: nodes.Node) -> None:
        if isinstance(node, nodes.Name):
            tested.add(node.name)
        elif isinstance(node, nodes.Not):
            test(node.node)
        elif isinstance(node, nodes.And | nodes.Or):
            test(node.left)
            test(node.right)
        elif (
            isinstance(node, nodes.Test)
            and node.name == "none"
            and isinstance(node.node, nodes.Name)
            and not (node.args or node.kwargs or node.dyn_args or node.dyn_kwargs)
        ):
            tested.add(node.node.name)
        else:
            raise refuse(node)

    def walk(node: nodes.Node) -> None:
        if isinstance(node, nodes.Template):
            for child in node.body:
                walk(child)
        elif isinstance(node, nodes.Output):
            for child in node.nodes:
                if isinstance(child, nodes.Name):
                    printed.add(child.name)
                elif not (
                    isinstance(child, nodes.TemplateData)
                    or (isinstance(child, nodes.Const) and isinstance(child.value, str))
                ):
                    raise refuse(child)
        elif isinstance(node, nodes.If):
            test(node.test)
            for child in [*node.body, *node.elif_, *node.else_]:
                walk(child)
        else:
            raise refuse(node)

    walk(template)
    return tuple(sorted(tested)), frozenset(printed)


def _escaped_text(value: Any) -> str:
    """``value`` escaped (``app.escaping``) and printed as Jinja prints it."""
    found = escaped(value)
    return found if type(found) is str else str(found)


class _Plan:
    """A page's fixed texts with the names of the values between them."""

    __slots__ = ("_get", "_names", "_pieces")

    def __init__(self, pieces: list[str]) -> None:
        self._pieces = pieces
        self._names = tuple(pieces[1::2])
        # One C call fetches every value; itemgetter of one name gives the value, not a tuple.
        self._get = itemgetter(*self._names) if len(self._names) > 1 else None

    def fill(self, values: Mapping[str, Any]) -> str:
        """The fixed texts joined with ``values``, escaped."""
        if self._get is None:
            found: tuple[Any, ...] = tuple(values.get(name, "") for name in self._names)
        else:
            try:
                found = self._get(values)
            except KeyError:  # a missing value prints nothing, as Jinja's Undefined does
                found = tuple(values.get(name, "") for name in self._names)
        # Mostly texts with nothing to escape: then one search over them all, not one per value.
        if not (set(map(type, found)) <= _TEXTS_ONLY and SPECIAL.search("".join(found)) is None):
            found = tuple(map(_escaped_text, found))
        pieces = self._pieces.copy()
        pieces[1::2] = found
        return "".join(pieces)


class PagePlans:
    """The plans of one compiled template (see the module's docstring). ``constants`` are values
    that are the same on every render (safe texts, printed as they are and never tested), so
    their text is part of the plans. Thread-safe: two threads may build the same plan at once,
    and both builds give the same plan."""

    def __init__(self, template: Template, constants: Mapping[str, Markup] | None = None) -> None:
        environment = template.environment
        if environment.autoescape is not False or environment.finalize is not None:
            raise UnplannableTemplate("only for a template compiled without autoescaping or finalize")
        if environment.loader is None or template.name is None:
            raise UnplannableTemplate("the template's source is needed")
        source, filename, _ = environment.loader.get_source(environment, template.name)
        self.template = template
        self.tested, self.printed = _variables(environment.parse(source, template.name, filename))
        self.constants = dict(constants or {})
        if tested_constants := sorted(set(self.constants) & set(self.tested)):
            raise UnplannableTemplate(f"constants may not be tested: {tested_constants}")
        self._plans: dict[tuple[int, ...], _Plan] = {}

    def shape(self, values: Mapping[str, Any]) -> tuple[int, ...]:
        """Which of the tested values are None, false, true or missing."""
        return tuple(
            _NONE if value is None else _MISSING if value is _ABSENT else _TRUE if value else _FALSE
            for value in map(values.get, self.tested, repeat(_ABSENT))
        )

    def plan(self, shape: tuple[int, ...]) -> _Plan:
        """The plan of ``shape``: the template rendered by Jinja with markers for the values,
        split into its fixed texts and the names of the values between them."""
        found = self._plans.get(shape)
        if found is not None:
            return found
        markers: dict[str, Any] = {name: _Marker(name, True) for name in self.printed}
        markers.update(self.constants)
        for name, state in zip(self.tested, shape, strict=True):
            if state == _MISSING:
                markers.pop(name, None)
            elif state == _NONE:
                markers[name] = None  # printed, it reads "None", as the value itself would
            else:
                markers[name] = _Marker(name, state == _TRUE)
        template = self.template
        rendered = template.environment.concat(  # type: ignore[attr-defined]
            template.root_render_func(template.new_context(markers, shared=True))
        )
        if len(self._plans) >= MAX_SHAPES:
            self._plans.clear()
        found = self._plans[shape] = _Plan(_SLOT.split(rendered))  # text, name, text, ..., text
        return found

    def render(self, values: Mapping[str, Any]) -> str:
        """The page for ``values``, as Jinja would render it with each value escaped first."""
        return self.plan(self.shape(values)).fill(values)
