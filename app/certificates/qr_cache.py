"""QR images of seals, rendered once per process and kept in an LRU keyed by the seal URL.

Rendering costs about 20 ms (``verify.qr``); a seal never changes once issued, so the bytes for
one URL (which embeds the token) are the same forever. 512 entries of a few kB each bound the
memory at a few MB per worker.
"""

from __future__ import annotations

import functools

from verify import qr

CACHE_SIZE = 512


@functools.lru_cache(maxsize=CACHE_SIZE)
def qr_png(url: str) -> bytes:
    """PNG of the QR code holding ``url``."""
    return qr.render_png(url)


@functools.lru_cache(maxsize=CACHE_SIZE)
def qr_svg(url: str) -> bytes:
    """SVG of the QR code holding ``url``."""
    return qr.render_svg(url)


@functools.lru_cache(maxsize=CACHE_SIZE)
def label_png(url: str, number: str, body_code: str) -> bytes:
    """Printable PNG label: the code with the certificate number (and body) under it."""
    return qr.render_label_png(url, number, body_code)


@functools.lru_cache(maxsize=CACHE_SIZE)
def label_svg(url: str, number: str, body_code: str) -> bytes:
    """SVG version of the label, for the print page (prints sharp at any size)."""
    return qr.render_label_svg(url, number, body_code)


def clear() -> None:
    """Empty every cache (tests measure rendering from a cold start)."""
    for cached in (qr_png, qr_svg, label_png, label_svg):
        cached.cache_clear()
