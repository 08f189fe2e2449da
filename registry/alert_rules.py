"""The four misuse rules of ``registry.alerts``, each turning new scan log rows into findings.

Every rule looks only at what the new rows touch (certificates, seals, bodies) and asks the
database one GROUP BY over ``scan_event`` within its window, keyed on the column of a composite
index (``ix_scan_event_certificate_time``, ``ix_scan_event_token_time``,
``ix_scan_event_claimed_body_time``; the first two are partial, over customs declarations and
scans at a port, so their rules state those conditions too): the cost follows the size of a batch
and of the window's rows for those subjects, never the size of the table. A rule reports a
subject only when new rows of that subject count towards it, so a batch of unrelated scans leaves
its alert alone.

Findings carry what an alert needs (subject, body and certificate to file it under, the scans
counted, a small ``detail`` for the page); ``registry.alerts`` opens or updates the alerts.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from registry.db import utc
from registry.models import Body, Certificate, Organization
from registry.oversight_models import AT_A_PORT, AlertKind, ScanEvent
from registry.scanlog import ScanRecord
from verify.verdict import VerdictCode

_CHUNK = 500  # IN-list size: well under SQLite's and PostgreSQL's parameter limits
MAX_LISTED = 50  # entries kept in one mapping of an alert's detail (exporters, ports, numbers)
WITHDRAWAL_VERDICTS = (VerdictCode.CERTIFICATE_WITHDRAWN.value, VerdictCode.KEY_REVOKED.value)
FORGED = VerdictCode.FORGED.value


@dataclass
class Finding:
    """A subject for which a rule holds after the new rows.

    ``in_window`` is the number of scans that count when an alert is opened from this finding;
    ``new`` the number of this batch's rows among them (added to an alert already open).
    ``cumulative`` says how the count mappings of ``detail`` join an open alert's: summed
    (counts of new rows only) or the larger of the two (counts over the whole window).
    """

    kind: AlertKind
    subject_key: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    in_window: int
    new: int
    detail: dict[str, Any] = field(default_factory=dict)
    body_id: int | None = None
    certificate_id: int | None = None
    cumulative: bool = False


@dataclass(frozen=True)
class _CertificateFacts:
    body_id: int
    body_code: str
    number: str
    related_exporters: frozenset[str]  # the holder's and the manufacturer's credit codes


def chunks(values: Iterable[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    """``values`` (sorted, so statements are repeatable) in lists of at most ``size``."""
    ordered = sorted(values)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def top(counts: Counter[str] | dict[str, int]) -> dict[str, int]:
    """The MAX_LISTED largest entries (ties by key), so an alert's detail stays small."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return dict(ranked[:MAX_LISTED])


def _window(since: dt.datetime, until: dt.datetime) -> ColumnElement[bool]:
    """Scans from ``since`` to ``until`` (inclusive)."""
    # In UTC: SQLite compares the stored text, which is UTC wall time.
    return ScanEvent.scanned_at.between(utc(since), utc(until))


def _certificate_facts(session: Session, ids: Iterable[int]) -> dict[int, _CertificateFacts]:
    holder, maker = aliased(Organization), aliased(Organization)
    facts: dict[int, _CertificateFacts] = {}
    for chunk in chunks(set(ids)):
        rows = session.execute(
            select(Certificate.id, Certificate.body_id, Body.code, Certificate.number,
                   holder.credit_code, maker.credit_code)
            .join(Body, Body.id == Certificate.body_id)
            .join(holder, holder.id == Certificate.holder_id)
            .join(maker, maker.id == Certificate.manufacturer_id)
            .where(Certificate.id.in_(chunk))
        )  # fmt: skip
        for cert_id, body_id, code, number, holder_code, maker_code in rows:
            related = frozenset(c.upper() for c in (holder_code, maker_code) if c)
            facts[cert_id] = _CertificateFacts(body_id, code, number, related)
    return facts


def _body_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(set(codes)):
        found.update(session.execute(select(Body.code, Body.id).where(Body.code.in_(chunk))).all())
    return found


def _certificates_named(session: Session, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Certificate id by (body code, number), for the pairs that are registered."""
    found: dict[tuple[str, str], int] = {}
    for chunk in chunks(pairs):
        rows = session.execute(
            select(Body.code, Certificate.number, Certificate.id)
            .join(Body, Body.id == Certificate.body_id)
            .where(Body.code.in_({b for b, _ in chunk}), Certificate.number.in_({n for _, n in chunk}))
        )
        found.update({(code, number): cert_id for code, number, cert_id in rows if (code, number) in pairs})
    return found


def seal_subject(body: str | None, number: str | None, kid: str | None) -> str:
    """The subject of a withdrawal alert: the certificate a seal names, else its key."""
    if body and number:
        return f"{body}/{number}"
    return f"key:{kid or 'unknown'}"


def scanned_after_withdrawal(session: Session, records: Sequence[ScanRecord]) -> list[Finding]:
    """Every scan of a withdrawn certificate's seal, or of a seal signed with a revoked key, counts
    at once (no window): each such scan is misuse or a stale label worth knowing about.

    A revoked key's seal cannot be believed, so the certificate it names is attributed from what
    it claims (``registry.scanlog``), which may also be a forger's stolen-key work: either way,
    the body named is the one to tell.
    """
    groups: dict[str, list[ScanRecord]] = defaultdict(list)
    for record in records:
        if record.verdict in WITHDRAWAL_VERDICTS:
            groups[seal_subject(record.claimed_body, record.claimed_number, record.kid)].append(record)
    if not groups:
        return []
    named = {(r.claimed_body, r.claimed_number) for g in groups.values() for r in g}
    certificates = _certificates_named(session, {(b, n) for b, n in named if b and n})
    bodies = _body_ids(session, {b for b, _ in named if b})
    findings = []
    for subject, rows in groups.items():
        first = rows[0]
        certificate_id = first.certificate_id or certificates.get(
            (first.claimed_body or "", first.claimed_number or "")
        )
        findings.append(Finding(
            kind=AlertKind.SCANNED_AFTER_WITHDRAWAL,
            subject_key=subject,
            first_seen=min(r.scanned_at for r in rows),
            last_seen=max(r.scanned_at for r in rows),
            in_window=len(rows),
            new=len(rows),
            detail={
                "body": first.claimed_body,
                "number": first.claimed_number,
                "kid": first.kid,
                "verdicts": dict(Counter(r.verdict for r in rows)),
                "channels": dict(Counter(r.channel for r in rows)),
                "ports": top(Counter(r.port for r in rows if r.port)),
            },
            body_id=bodies.get(first.claimed_body or ""),
            certificate_id=certificate_id,
            cumulative=True,
        ))  # fmt: skip
    return findings


def shared_certificate(
    session: Session, records: Sequence[ScanRecord], *, now: dt.datetime, exporters: int, window: dt.timedelta
) -> list[Finding]:
    """A certificate declared at customs by ``exporters`` or more distinct exporters that are
    neither its holder nor its manufacturer, within ``window``: a certificate lent or copied."""
    touched = {r.certificate_id for r in records if r.certificate_id and r.exporter_credit_code}
    if not touched:
        return []
    facts = _certificate_facts(session, touched)
    seen: dict[int, dict[str, list[Any]]] = defaultdict(dict)  # cert -> exporter -> [count, first, last]
    for chunk in chunks(facts):
        rows = session.execute(
            select(ScanEvent.certificate_id, ScanEvent.exporter_credit_code, func.count(),
                   func.min(ScanEvent.scanned_at), func.max(ScanEvent.scanned_at))
            .where(ScanEvent.certificate_id.in_(chunk), _window(now - window, now),
                   ScanEvent.exporter_credit_code.is_not(None))
            .group_by(ScanEvent.certificate_id, ScanEvent.exporter_credit_code)
        )  # fmt: skip
        for cert_id, exporter, count, first, last in rows:
            code = str(exporter).strip().upper()
            if cert_id is None or code in facts[cert_id].related_exporters:  # None: for the type checker
                continue
            entry = seen[cert_id].setdefault(code, [0, utc(first), utc(last)])
            entry[0] += count  # the same code typed in another case is the same exporter
            entry[1], entry[2] = min(entry[1], utc(first)), max(entry[2], utc(last))
    findings = []
    for cert_id, by_exporter in seen.items():
        fact = facts[cert_id]
        new = sum(
            1 for r in records
            if r.certificate_id == cert_id and r.exporter_credit_code
            and r.exporter_credit_code.strip().upper() not in fact.related_exporters
        )  # fmt: skip
        if len(by_exporter) < exporters or new == 0:
            continue
        findings.append(Finding(
            kind=AlertKind.SHARED_CERTIFICATE,
            subject_key=f"{fact.body_code}/{fact.number}",
            first_seen=min(e[1] for e in by_exporter.values()),
            last_seen=max(e[2] for e in by_exporter.values()),
            in_window=sum(e[0] for e in by_exporter.values()),
            new=new,
            detail={
                "exporters": top({code: e[0] for code, e in by_exporter.items()}),
                "related": sorted(fact.related_exporters),
                "window_days": window.days,
            },
            body_id=fact.body_id,
            certificate_id=cert_id,
        ))  # fmt: skip
    return findings


def scan_burst(
    session: Session, records: Sequence[ScanRecord], *, now: dt.datetime, ports: int, window: dt.timedelta
) -> list[Finding]:
    """One seal scanned at ``ports`` or more distinct ports within ``window``: one label copied
    onto many consignments (a genuine certificate covers goods, it does not travel this fast)."""
    new_by_token: dict[str, list[ScanRecord]] = defaultdict(list)
    for record in records:
        if record.token_sha256 and record.port:
            new_by_token[record.token_sha256].append(record)
    if not new_by_token:
        return []
    seen: dict[str, dict[str, list[Any]]] = defaultdict(dict)  # token -> port -> [count, first, last]
    for chunk in chunks(new_by_token):
        rows = session.execute(
            select(ScanEvent.token_sha256, ScanEvent.port, func.count(),
                   func.min(ScanEvent.scanned_at), func.max(ScanEvent.scanned_at))
            .where(ScanEvent.token_sha256.in_(chunk), _window(now - window, now),
                   AT_A_PORT)  # as the partial index says it (a bound '' would not match it)
            .group_by(ScanEvent.token_sha256, ScanEvent.port)
        )  # fmt: skip
        for token, port, count, first, last in rows:
            seen[str(token)][port] = [count, utc(first), utc(last)]
    bursts = {token: by_port for token, by_port in seen.items() if len(by_port) >= ports}
    if not bursts:
        return []
    named = {t: next((r for r in new_by_token[t] if r.claimed_body), new_by_token[t][0]) for t in bursts}
    facts = _certificate_facts(session, {r.certificate_id for r in named.values() if r.certificate_id})
    bodies = _body_ids(session, {r.claimed_body for r in named.values() if r.claimed_body})
    findings = []
    for token, by_port in bursts.items():
        sample = named[token]
        fact = facts.get(sample.certificate_id or 0)
        findings.append(Finding(
            kind=AlertKind.SCAN_BURST,
            subject_key=token,
            first_seen=min(p[1] for p in by_port.values()),
            last_seen=max(p[2] for p in by_port.values()),
            in_window=sum(p[0] for p in by_port.values()),
            new=len(new_by_token[token]),
            detail={
                "ports": top({port: p[0] for port, p in by_port.items()}),
                "body": sample.claimed_body,
                "number": sample.claimed_number,
                "window_hours": round(window.total_seconds() / 3600, 2),
            },
            body_id=fact.body_id if fact else bodies.get(sample.claimed_body or ""),
            certificate_id=sample.certificate_id if fact else None,
        ))  # fmt: skip
    return findings


def forgeries_naming_body(
    session: Session, records: Sequence[ScanRecord], *, now: dt.datetime, scans: int, window: dt.timedelta
) -> list[Finding]:
    """``scans`` or more FORGED scans naming one body within ``window``: someone is making fake
    seals in that body's name (the body is told even though the seals are not its own)."""
    new = Counter(r.claimed_body for r in records if r.verdict == FORGED and r.claimed_body)
    if not new:
        return []
    seen: dict[str, dict[str, list[Any]]] = defaultdict(dict)  # body -> number -> [count, first, last]
    for chunk in chunks(new):
        rows = session.execute(
            select(ScanEvent.claimed_body, ScanEvent.claimed_number, func.count(),
                   func.min(ScanEvent.scanned_at), func.max(ScanEvent.scanned_at))
            .where(ScanEvent.claimed_body.in_(chunk), _window(now - window, now),
                   ScanEvent.verdict == FORGED)
            .group_by(ScanEvent.claimed_body, ScanEvent.claimed_number)
        )  # fmt: skip
        for body, number, count, first, last in rows:
            seen[str(body)][number or "?"] = [count, utc(first), utc(last)]
    hit = {body: named for body, named in seen.items() if sum(n[0] for n in named.values()) >= scans}
    bodies = _body_ids(session, hit)
    return [
        Finding(
            kind=AlertKind.FORGERIES_NAMING_BODY,
            subject_key=body,
            first_seen=min(n[1] for n in by_number.values()),
            last_seen=max(n[2] for n in by_number.values()),
            in_window=sum(n[0] for n in by_number.values()),
            new=new[body],
            detail={
                "numbers": top({number: n[0] for number, n in by_number.items()}),
                "scans_in_window": sum(n[0] for n in by_number.values()),
                "window_hours": round(window.total_seconds() / 3600, 2),
            },
            body_id=bodies.get(body),
        )
        for body, by_number in hit.items()
    ]
