"""HTML escaping of a page's values ahead of rendering, for a template compiled without
autoescaping (the seal page: see app.certificates.verify_pages)."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

SPECIAL = re.compile("[&<>'\"]")


def escaped(value: Any) -> Any:
    """``value`` as a page prints it, escaped exactly as MarkupSafe's ``escape`` (autoescaping)
    would: a text, or anything else that prints as text, is escaped; a Markup is safe already;
    None, booleans and integers stay as they are (a template tests them; they print nothing
    to escape). Unlike MarkupSafe, another object with ``__html__`` is not trusted but printed
    as text and escaped (the seal page has none).

    MarkupSafe's ``escape`` wraps every result in a ``Markup``, whose constructor costs several
    times the escaping itself (it asks a ``str`` for ``__html__`` and catches the error).
    """
    if type(value) is str:  # most values: checked first, without the general tests below
        text = value
    elif value is None or isinstance(value, (bool, int, Markup)):
        return value
    else:
        text = str(value)
    if SPECIAL.search(text) is None:  # most values: a name, a date, a code
        return text
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )
