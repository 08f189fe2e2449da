"""URLs built once and kept: ``url_for`` costs more than the rest of a seal's page lines, and a
scan's URLs (the home page, the body's page, the certificate's API URL) repeat scan after scan."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, request, url_for

EXTENSION = "kept_urls"
# A guard on memory, not a limit: the names come from the registry, but an external URL's host
# from the request, so a stream of made-up Host headers must not grow it for ever.
MAX_KEPT_URLS = 10_000


def kept_url(endpoint: str, *, external: bool = False, **values: str) -> str:
    """``url_for(endpoint, **values)``, built once per app, values and what else the URL is built
    from: the script root, and for an ``external`` URL the request's host and scheme as well."""
    if not has_request_context():
        return url_for(endpoint, _external=external, **values)
    environ = request.environ
    root: tuple[Any, ...] = (environ.get("SCRIPT_NAME"),)
    if external:
        root += (
            environ.get("HTTP_HOST"),
            environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"),
            environ.get("wsgi.url_scheme"),
        )
    key = (endpoint, root, *values.items())
    urls: dict[tuple[Any, ...], str] = current_app.extensions.setdefault(EXTENSION, {})
    found = urls.get(key)
    if found is None:
        found = url_for(endpoint, _external=external, **values)
        if len(urls) >= MAX_KEPT_URLS:
            for oldest in list(urls)[: MAX_KEPT_URLS // 2]:
                urls.pop(oldest, None)
        urls[key] = found
    return found
