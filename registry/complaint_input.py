"""What the public sends with a complaint, checked: texts, codes to look up, and attachments.

Framework-free; ``registry.complaints`` uses these checks and re-exports the limits and the input
classes. Every problem names its field and a stable ``code`` that the web layer words for the reader.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from registry.errors import InvalidInput

# --- limits -----------------------------------------------------------------------------------
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_FILENAME_CHARS = 120
MAX_SUBJECT_CHARS = 500
MAX_DESCRIPTION_CHARS = 5000
MAX_REPORTER_NAME_CHARS = 100
MAX_REPORTER_CONTACT_CHARS = 200
MAX_NOTE_CHARS = 4000
MAX_REASON_CHARS = 2000


@dataclass(frozen=True)
class AttachmentType:
    """A media type the complaint form accepts: how its content starts, and its file name endings."""

    magic: bytes
    extensions: tuple[str, ...]
    aliases: tuple[str, ...] = ()  # other declared types browsers send for it


ATTACHMENT_TYPES = {
    "application/pdf": AttachmentType(b"%PDF-", (".pdf",)),
    "image/png": AttachmentType(b"\x89PNG\r\n\x1a\n", (".png",)),
    "image/jpeg": AttachmentType(b"\xff\xd8\xff", (".jpg", ".jpeg"), ("image/jpg", "image/pjpeg")),
}
# Declared types that say nothing about the content: the magic bytes alone decide.
UNINFORMATIVE_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})

# Line breaks and tabs are fine in long texts; other control characters (NUL above all, which
# PostgreSQL refuses to store) are refused everywhere.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\r\n\t]")


@dataclass
class ComplaintInput:
    """What the public form sends."""

    subject_kind: str
    subject_text: str
    description: str
    reporter_name: str = ""
    reporter_contact: str = ""
    language: str = "zh"


@dataclass
class AttachmentInput:
    """An uploaded file as received: the name and type the client claims, and the bytes."""

    filename: str
    declared_type: str
    data: bytes


class Problems:
    """Collects every problem of a submission, each with a stable code the web layer words."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field_name: str, code: str, problem: str) -> None:
        self.items.append({"field": field_name, "code": code, "problem": problem})

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise InvalidInput(first["problem"], field=first["field"], code=first["code"], errors=self.items)


def check_text(
    problems: Problems, field_name: str, value: str, limit: int, *, required: bool = False,
    multiline: bool = False,
) -> str:
    """``value`` stripped; a problem is added if it is missing, too long or has control characters."""
    cleaned = (value or "").strip()
    if required and not cleaned:
        problems.add(field_name, "required", f"{field_name} is required")
    elif len(cleaned) > limit:
        problems.add(field_name, "too_long", f"{field_name} has more than {limit} characters")
    elif _CONTROL.search(cleaned) or (not multiline and _LINE_BREAKS.search(cleaned)):
        problems.add(field_name, "control", f"{field_name} contains control characters")
    return cleaned


def check_key(value: str, field_name: str) -> str:
    """A code or number to look up: one line, no control characters (PostgreSQL refuses NUL)."""
    cleaned = (value or "").strip()
    if not cleaned or _CONTROL.search(cleaned) or _LINE_BREAKS.search(cleaned):
        raise InvalidInput(f"{field_name} must be a code on one line", field=field_name)
    return cleaned


def check_note(note: str, *, required: bool, field_name: str = "note", limit: int = MAX_NOTE_CHARS) -> str:
    """A free text of staff (a note, a reason): InvalidInput on its own if it is not acceptable."""
    problems = Problems()
    cleaned = check_text(problems, field_name, note, limit, required=required, multiline=True)
    problems.raise_if_any()
    return cleaned


# --- attachments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedAttachment:
    filename: str
    media_type: str
    size: int
    sha256: str


def sanitize_filename(name: str) -> str:
    """The last path component of ``name``, with only letters, digits and ``._-()`` and spaces.

    Letters include Chinese; anything else (path separators, control and format characters such
    as a right-to-left override) becomes ``_``. The result is at most MAX_FILENAME_CHARS long.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name or ""))[-1]
    kept = "".join(ch if ch.isalnum() or ch in "._-() " else "_" for ch in base)
    kept = re.sub(r"_{2,}", "_", kept).strip(" ._")
    stem, dot, extension = kept.rpartition(".")
    if not dot:
        stem, extension = kept, ""
    extension = extension[:10]
    stem = stem[: MAX_FILENAME_CHARS - len(extension) - 1].strip(" ._")
    return f"{stem}.{extension}" if extension else stem


def check_attachment(attachment: AttachmentInput) -> CheckedAttachment:
    """Size, type (by magic bytes) and name of an upload; InvalidInput(field="attachment") if not.

    The stored media type is the one the content proves, never the one the client declared; a
    declared type or a file name ending that disagrees with the content is refused.
    """
    size = len(attachment.data)
    if size == 0:
        raise InvalidInput("the attachment is empty", field="attachment", code="empty")
    if size > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            f"the attachment has {size} bytes, more than {MAX_ATTACHMENT_BYTES}",
            field="attachment", code="too_large", limit=MAX_ATTACHMENT_BYTES,
        )
    media_type = next(
        (name for name, kind in ATTACHMENT_TYPES.items() if attachment.data.startswith(kind.magic)), None
    )
    if media_type is None:
        raise InvalidInput("the attachment is not a PDF, PNG or JPEG file", field="attachment", code="type")
    kind = ATTACHMENT_TYPES[media_type]
    declared = (attachment.declared_type or "").split(";")[0].strip().lower()
    if declared not in UNINFORMATIVE_TYPES and declared not in (media_type, *kind.aliases):
        raise InvalidInput(
            f"the attachment is declared as {declared} but its content is {media_type}",
            field="attachment", code="mismatch",
        )
    filename = sanitize_filename(attachment.filename)
    stem, dot, extension = filename.rpartition(".")
    if not dot:  # no ending at all: give it the one its content proves
        filename = f"{filename or 'attachment'}{kind.extensions[0]}"
    elif f".{extension.lower()}" not in kind.extensions:
        raise InvalidInput(
            f"the file name ends in .{extension} but its content is {media_type}",
            field="attachment", code="mismatch",
        )
    elif not stem:
        filename = f"attachment{kind.extensions[0]}"
    return CheckedAttachment(filename, media_type, size, hashlib.sha256(attachment.data).hexdigest())
