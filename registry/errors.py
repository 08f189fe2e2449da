"""Domain exceptions. ``app.errors`` maps each to an HTTP status in one table."""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """Base of every domain error; ``code`` is stable and shown to API clients."""

    code = "registry_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(RegistryError):
    code = "not_found"


class InvalidInput(RegistryError):
    """Input that is well-formed but breaks a domain rule."""

    code = "invalid_input"


class Conflict(RegistryError):
    """The change clashes with the current state (duplicate identifier, illegal transition)."""

    code = "conflict"


class StaleEdit(Conflict):
    """Somebody else saved the record after this editor loaded it (optimistic locking)."""

    code = "stale_edit"


class PermissionDenied(RegistryError):
    code = "forbidden"


class ImportRejected(RegistryError):
    """A spreadsheet import with row errors; ``details['errors']`` lists them."""

    code = "import_rejected"


class KeyStoreError(RegistryError):
    """The key store cannot do what was asked: no passphrase, wrong passphrase, no active key."""

    code = "key_store"
