"""The registry state the transparency log implies, and its comparison with the tables as they are now.

Part of the log audit (``registry.log_audit``). Replaying the log keeps, per subject, only the id
of the audit event holding its last ``after`` snapshot, so memory grows with the number of
subjects, not of events; the comparison then walks each table in pages of rows, reads those
events back (their canonical text, the bytes the log hashes, never the JSON columns) and compares
snapshots taken with the very functions the services log with, through the same canonical JSON
round trip (``registry.audit.plain``), so dates and times compare as the same text.

Two things a snapshot holds change without an audit event of that subject, and the replay follows
them so that a clean registry compares clean:

- organizations are shared by credit code: editing one body rewrites the names (and address...)
  every other body of that organization, and every certificate naming it as holder or
  manufacturer, shows; the last logged values per credit code are laid over those snapshots;
- a key rotation logs one event (subject: the retired key) whose ``after`` holds both keys.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.sql.base import ExecutableOption

from registry import audit, keystore
from registry.authorizations import authorization_snapshot
from registry.bodies import body_snapshot
from registry.certificates import certificate_snapshot
from registry.models import AuditEvent, Authorization, Body, Certificate, Seal, SigningKeyRecord
from registry.seals import token_digest

SNAPSHOT_TYPES = ("body", "authorization", "certificate", "signing_key")
SEAL = "seal"  # the replayed set of seals, from "seal:issue" events (subject type "certificate")
SEAL_ACTION = "seal:issue"
ROTATE_ACTION = "key:rotate"
# Keys an action adds to a logged snapshot that are no field of the row (a status change's day).
_ANNOTATIONS: dict[str, frozenset[str]] = {"authorization": frozenset({"effective"})}
_BODY_ORGANIZATION_FIELDS = ("name_zh", "name_en", "country", "province", "address", "website")
_PARTY_FIELDS = ("name_zh", "name_en", "country")
_PARTIES = ("holder", "manufacturer")
_SHOWN_CHARACTERS = 200
# Not logged, but implied by the log: where a certificate's latest change sits in it (kept on the
# row for every scan to read, registry.certificates.keep_log_leaves), compared as a field.
LOG_INDEX = "log_index"

Report = Callable[[str, str, str], None]  # (kind, subject, detail)


class ImpliedState:
    """What the log says the registry holds, built one logged event at a time, in leaf order."""

    def __init__(self) -> None:
        # subject type -> subject key -> id of the audit event whose ``after`` is its last state
        self.last: dict[str, dict[str, int]] = {subject_type: {} for subject_type in SNAPSHOT_TYPES}
        self.seals: dict[str, int] = {}  # token_sha256 -> id of its "seal:issue" event
        self.key_parts: dict[str, str] = {}  # kid -> "retired"/"active" when last logged by a rotation
        self.organizations: dict[str, dict[str, Any]] = {}  # credit code -> last logged fields
        self.events_by_type: Counter[str] = Counter()
        # certificate key -> the leaf of its latest change (what Certificate.log_index must hold)
        self.certificate_leaves: dict[str, int] = {}

    def apply(self, event_id: int, event: dict[str, Any], leaf: int | None = None) -> None:
        """Take one logged event (its parsed canonical JSON, at ``leaf``) into the state."""
        subject_type, key = event["subject"]["type"], event["subject"]["key"]
        after = event["after"]
        if event["action"] == SEAL_ACTION:
            self.events_by_type[SEAL] += 1
            if isinstance(after, dict) and isinstance(after.get("token_sha256"), str):
                self.seals[after["token_sha256"]] = event_id
            return
        self.events_by_type[subject_type] += 1
        if subject_type not in self.last:
            return
        if subject_type == "signing_key" and event["action"] == ROTATE_ACTION and isinstance(after, dict):
            for part in ("retired", "active"):
                snapshot = after.get(part)
                if isinstance(snapshot, dict) and isinstance(snapshot.get("kid"), str):
                    self.last[subject_type][snapshot["kid"]] = event_id
                    self.key_parts[snapshot["kid"]] = part
            return
        self.last[subject_type][key] = event_id
        if subject_type == "certificate" and leaf is not None:
            self.certificate_leaves[key] = leaf
        self.key_parts.pop(key, None)
        self._note_organizations(subject_type, after)

    def _note_organizations(self, subject_type: str, after: Any) -> None:
        if not isinstance(after, dict):
            return
        if subject_type == "body":
            self._note(after, _BODY_ORGANIZATION_FIELDS)
        elif subject_type == "certificate":
            for role in _PARTIES:
                if isinstance(after.get(role), dict):
                    self._note(after[role], _PARTY_FIELDS)

    def _note(self, fields: dict[str, Any], names: Sequence[str]) -> None:
        code = fields.get("credit_code")
        if isinstance(code, str):
            self.organizations.setdefault(code, {}).update({n: fields[n] for n in names if n in fields})

    def implied(self, subject_type: str, key: str, after: Any) -> dict[str, Any] | None:
        """The snapshot the log implies for a subject whose last event logged ``after``."""
        if subject_type == "signing_key" and key in self.key_parts and isinstance(after, dict):
            after = after.get(self.key_parts[key])
        if not isinstance(after, dict):
            return None  # deleted (or never a snapshot)
        ignored = _ANNOTATIONS.get(subject_type, frozenset())
        snapshot = {name: value for name, value in after.items() if name not in ignored}
        if subject_type == "body":
            snapshot = self._overlay(snapshot, _BODY_ORGANIZATION_FIELDS)
        elif subject_type == "certificate":
            for role in _PARTIES:
                if isinstance(snapshot.get(role), dict):
                    snapshot[role] = self._overlay(snapshot[role], _PARTY_FIELDS)
            snapshot[LOG_INDEX] = self.certificate_leaves.get(key)
        return snapshot

    def _overlay(self, fields: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
        organization = self.organizations.get(fields.get("credit_code") or "")
        if organization is None:
            return fields
        return fields | {name: organization[name] for name in names if name in organization}


# --- comparison ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """How to read one subject type's rows and name and snapshot each."""

    subject_type: str
    model: type[Any]
    options: tuple[ExecutableOption, ...]
    key: Callable[[Any], str]
    snapshot: Callable[[Any], dict[str, Any]]


_TABLES = (
    _Table("body", Body, (selectinload(Body.identifiers),), lambda row: row.code, body_snapshot),
    _Table("authorization", Authorization, (joinedload(Authorization.body),),
           lambda row: f"{row.body.code}/{row.id}", authorization_snapshot),
    _Table("certificate", Certificate, (selectinload(Certificate.test_reports),),
           lambda row: f"{row.body.code}/{row.number}",
           lambda row: certificate_snapshot(row) | {LOG_INDEX: row.log_index}),
    _Table("signing_key", SigningKeyRecord, (), lambda row: row.kid, keystore.key_snapshot),
)


def _rows(session: Session, model: type[Any], options: Sequence[ExecutableOption], page_size: int
          ) -> Iterator[list[Any]]:
    """The table's rows in id order, a page at a time (keyset pagination).

    ``populate_existing``: objects the session already holds are refreshed from the row, so an
    edit made in SQL behind the session's back is seen, not the session's stale copy.
    """
    last_id = 0
    while True:
        page = list(session.scalars(
            select(model).options(*options).where(model.id > last_id).order_by(model.id)
            .limit(page_size).execution_options(populate_existing=True)
        ).unique())
        if not page:
            return
        yield page
        last_id = page[-1].id


def _logged_events(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The parsed canonical JSON of the given audit events (already read once by the replay)."""
    events: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(AuditEvent.id, AuditEvent.canonical).where(AuditEvent.id.in_(ids[start:start + 500]))
        )
        events.update({event_id: json.loads(canonical) for event_id, canonical in rows})
    return events


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _SHOWN_CHARACTERS else text[: _SHOWN_CHARACTERS - 1] + "…"


def field_differences(logged: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    """``field: log X, table Y`` for every field that differs; nested objects by dotted path."""
    found = []
    for name in sorted(logged.keys() | current.keys()):
        path = f"{prefix}{name}"
        if name not in current:
            found.append(f"{path}: log {_show(logged[name])}, not in the table's snapshot")
        elif name not in logged:
            found.append(f"{path}: not in the log, table {_show(current[name])}")
        elif isinstance(logged[name], dict) and isinstance(current[name], dict):
            found.extend(field_differences(logged[name], current[name], f"{path}."))
        elif logged[name] != current[name]:
            found.append(f"{path}: log {_show(logged[name])}, table {_show(current[name])}")
    return found


def compare(session: Session, state: ImpliedState, report: Report, page_size: int) -> Counter[str]:
    """Compare every table with a snapshot function, then the seals, with what ``state`` implies;
    call ``report`` for each difference. Returns the rows compared per subject type."""
    compared: Counter[str] = Counter()
    for table in _TABLES:
        logged = state.last[table.subject_type]
        for page in _rows(session, table.model, table.options, page_size):
            compared[table.subject_type] += len(page)
            current = {table.key(row): audit.plain(table.snapshot(row)) for row in page}
            _compare_page(session, state, table.subject_type, current, logged, report)
        _report_missing(session, state, table.subject_type, logged, report, page_size)
    compared[SEAL] = _compare_seals(session, state, report, page_size)
    return compared


def _compare_page(
    session: Session, state: ImpliedState, subject_type: str,
    current: dict[str, dict[str, Any] | None], logged: dict[str, int], report: Report,
) -> None:
    # Popped: what is left in ``logged`` once every row was seen is missing from the table.
    found = {key: logged.pop(key) for key in current if key in logged}
    events = _logged_events(session, list(found.values()))
    for key, snapshot in current.items():
        subject = f"{subject_type} {key}"
        if key not in found:
            report("unlogged", subject, "in the table but never in the log")
            continue
        event_id = found[key]
        implied = state.implied(subject_type, key, events[event_id]["after"])
        if implied is None:
            report("changed", subject, f"the log deleted it (audit event #{event_id}); the table holds it")
        elif snapshot is not None and implied != snapshot:
            changes = "; ".join(field_differences(implied, snapshot))
            report("changed", subject, f"differs from its last logged state (event #{event_id}): {changes}")


def _report_missing(
    session: Session, state: ImpliedState, subject_type: str, logged: dict[str, int], report: Report,
    page_size: int,
) -> None:
    remaining = sorted(logged.items(), key=lambda item: item[1])
    for start in range(0, len(remaining), page_size):
        chunk = remaining[start : start + page_size]
        events = _logged_events(session, [event_id for _, event_id in chunk])
        for key, event_id in chunk:
            if state.implied(subject_type, key, events[event_id]["after"]) is not None:
                report("missing", f"{subject_type} {key}",
                       f"logged (last by audit event #{event_id}) but not in the table")
    logged.clear()


def _seal_snapshot(seal: Seal) -> dict[str, Any] | None:
    return audit.plain({
        "seal_id": seal.id,
        "kid": seal.kid,
        "certificate": f"{seal.certificate.body.code}/{seal.certificate.number}",
        "issued_at": keystore.utc(seal.issued_at),
    })


def _logged_seal(event: dict[str, Any]) -> dict[str, Any]:
    after = event["after"]
    return {
        "seal_id": after.get("seal_id"),
        "kid": after.get("kid"),
        "certificate": event["subject"]["key"],
        "issued_at": after.get("issued_at"),
    }


def _compare_seals(session: Session, state: ImpliedState, report: Report, page_size: int) -> int:
    compared = 0
    options = (joinedload(Seal.certificate),)
    for page in _rows(session, Seal, options, page_size):
        compared += len(page)
        found = {seal.token_sha256: state.seals.pop(seal.token_sha256)
                 for seal in page if seal.token_sha256 in state.seals}
        events = _logged_events(session, list(found.values()))
        for seal in page:
            subject = f"seal {seal.token_sha256}"
            if token_digest(seal.token) != seal.token_sha256:
                report("changed", subject, "the stored token does not hash to its token_sha256")
            if seal.token_sha256 not in found:
                report("unlogged", subject, "in the table but never logged by a seal:issue event")
                continue
            event_id = found[seal.token_sha256]
            logged, current = _logged_seal(events[event_id]), _seal_snapshot(seal)
            if current is not None and logged != current:
                changes = "; ".join(field_differences(logged, current))
                report("changed", subject, f"differs from its seal:issue event #{event_id}: {changes}")
    for digest, event_id in sorted(state.seals.items(), key=lambda item: item[1]):
        report("missing", f"seal {digest}", f"logged by audit event #{event_id} but not in the table")
    state.seals.clear()
    return compared
