"""Statements run on the driver's own cursor: for the two that every seal scan makes.

SQLAlchemy's Core execution costs far more than these statements themselves (measured here:
about 85 µs of the lookup's 115 µs on SQLite, 150 µs on PostgreSQL; ``bench/verify_http_bench.py``).
So :class:`DriverRead` (the seal's lookup) and :class:`DriverInsert` (the scan log's batch
insert) compile their statement once per dialect, then hand the SQL text and the parameters
straight to the DBAPI cursor of the session's connection, so they run in the session's
transaction (or outside one, on a reading connection; a seal scan's ``LookupReader`` runs its
lookup on the thread's pinned connection, ``registry.db.PinnedConnections``). Values are typed
as SQLAlchemy types them, by the column types' own processors: SQLite's dates come back from
text; JSON and timestamps go in as SQLAlchemy would write them.

Listeners on cursor execution (statement counters in the tests, tracing) make them run through
SQLAlchemy after all, so those see the statement exactly as with ``connection.execute``.

A driver error is raised as SQLAlchemy raises it: wrapped in the matching ``DBAPIError``
subclass; a dead connection is invalidated (``connection_invalidated``), and the pool replaced
as SQLAlchemy replaces it (a server that dropped one connection has dropped the others).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Select, Table, bindparam, insert
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import Session

from registry.db import LookupReader, Reader, as_sqlalchemy_error, connection_of

Processor = Callable[[Any], Any]


def _listened(connection: Connection | Engine) -> bool:
    dispatch = connection.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _raise_as_sqlalchemy(
    connection: Connection, exc: Exception, cursor: Any, sql: str, parameters: Any
) -> NoReturn:
    dialect = connection.dialect
    dead = dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)  # type: ignore[arg-type]
    if dead:  # as SQLAlchemy does: this connection, and the pool's others of its age
        connection.invalidate(exc)
        connection.engine.dispose(close=False)
    raise as_sqlalchemy_error(dialect, exc, sql, parameters, lost=dead) from exc


@dataclass(frozen=True)
class _ReadPlan:
    """A SELECT as one dialect runs it: SQL text, how to order parameters, how to type rows."""

    sql: str
    positions: tuple[str, ...] | None  # parameter names in order (positional paramstyles)
    constants: Mapping[str, Any]  # the statement's own bound values (literals in the query)
    processors: tuple[tuple[int, Processor], ...]  # (column index, result processor)

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        merged = {**self.constants, **values}
        if self.positions is None:
            return merged
        return tuple(merged[name] for name in self.positions)

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        if not self.processors:
            return tuple(raw)
        row = list(raw)
        for index, process in self.processors:
            if row[index] is not None:
                row[index] = process(row[index])
        return tuple(row)


class DriverRead:
    """``statement`` (a Core SELECT with bound parameters) run on the driver's cursor.

    Parameters are passed to the driver as they are, so they must be values it takes without
    a SQLAlchemy bind processor (strings, numbers) and not expanding IN lists.
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, str], _ReadPlan] = {}

    def _plan(self, dialect: Dialect) -> _ReadPlan:
        plan = self._plans.get((dialect.name, dialect.driver))
        if plan is None:
            compiled = self.statement.compile(dialect=dialect)
            processors = []
            for index, column in enumerate(self.statement.selected_columns):
                process = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if process is not None:
                    processors.append((index, process))
            plan = _ReadPlan(
                sql=compiled.string,
                positions=tuple(compiled.positiontup or ()) if compiled.positional else None,
                constants=dict(compiled.params),  # the literals; the named ones come per call
                processors=tuple(processors),
            )
            self._plans[(dialect.name, dialect.driver)] = plan  # the same for every engine of it
        return plan

    def rows(self, reader: Reader, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows for ``values`` (every bound parameter of the statement by name), typed, read
        on ``reader``'s connection (a Session's, in its transaction; a bare Connection; or a
        LookupReader's pinned connection)."""
        if isinstance(reader, LookupReader) and not _listened(reader.engine):
            plan = self._plan(reader.engine.dialect)
            return [plan.row(raw) for raw in reader.pinned.fetch(plan.sql, plan.parameters(values))]
        connection = connection_of(reader)
        if _listened(connection):
            return [tuple(row) for row in connection.execute(self.statement, dict(values))]
        plan = self._plan(connection.dialect)
        parameters = plan.parameters(values)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(plan.sql, parameters)
            fetched = cursor.fetchall()
            cursor.close()
        except connection.dialect.loaded_dbapi.Error as exc:
            _raise_as_sqlalchemy(connection, exc, cursor, plan.sql, parameters)
        return [plan.row(raw) for raw in fetched]


@dataclass(frozen=True)
class _InsertPlan:
    sql: str
    order: tuple[int, ...] | None  # positional paramstyles: the row's values in the SQL's order
    processors: tuple[Processor | None, ...]  # one per column, in the given order
    # What each column's processor makes of None (JSON's "null"; None for most), worked out once:
    # the scan log writes None in most of its columns, on every row.
    nones: tuple[Any, ...]

    def values(self, row: Sequence[Any]) -> list[Any]:
        """``row``'s values as the driver takes them (each through its column's bind processor)."""
        return [
            none if value is None else value if process is None else process(value)
            for process, none, value in zip(self.processors, self.nones, row, strict=True)
        ]

    def parameters(self, columns: Sequence[str], row: Sequence[Any]) -> Sequence[Any] | dict[str, Any]:
        values = self.values(row)
        if self.order is None:
            return dict(zip(columns, values, strict=True))
        return [values[index] for index in self.order]


class DriverInsert:
    """Rows inserted into ``columns`` of ``table`` with the driver's ``executemany``.

    Each value goes through its column type's bind processor, exactly as with SQLAlchemy (so a
    Python None in a JSON column is written as the column's type says: JSON null, or SQL NULL
    with ``none_as_null``). Defaults are not applied: give every column.
    """

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        # inline(): no RETURNING of the generated ids (on PostgreSQL each row would send one back).
        self.statement = insert(table).values({name: bindparam(name) for name in self.columns}).inline()
        self._plans: dict[tuple[str, str], _InsertPlan] = {}

    def _plan(self, dialect: Dialect) -> _InsertPlan:
        plan = self._plans.get((dialect.name, dialect.driver))
        if plan is None:
            compiled = self.statement.compile(dialect=dialect)
            order = None
            if compiled.positional:  # the table's column order, not ours
                order = tuple(self.columns.index(name) for name in compiled.positiontup or ())
            processors = tuple(
                self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.columns
            )
            nones = tuple(None if process is None else process(None) for process in processors)
            plan = _InsertPlan(sql=compiled.string, order=order, processors=processors, nones=nones)
            self._plans[(dialect.name, dialect.driver)] = plan
        return plan

    def insert(self, session: Session, rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (each a value per column, in ``columns`` order): one executemany, or on
        PostgreSQL one COPY."""
        if not rows:
            return
        connection = session.connection()
        if _listened(connection):
            connection.execute(self.statement, [dict(zip(self.columns, row, strict=True)) for row in rows])
            return
        plan = self._plan(connection.dialect)
        cursor = connection.connection.cursor()
        if connection.dialect.name == "postgresql":
            # COPY: the rows stream in one command, a few µs each, where an executemany sends a
            # statement per row (measured on the scan log: 67 µs a row; bench/verify_http_bench.py).
            sql = f"COPY {self.table.name} ({', '.join(self.columns)}) FROM STDIN"
            try:
                with cursor.copy(sql) as copy:  # type: ignore[attr-defined]  # psycopg's cursor
                    for row in rows:
                        copy.write_row(plan.values(row))
                cursor.close()
            except connection.dialect.loaded_dbapi.Error as exc:
                _raise_as_sqlalchemy(connection, exc, cursor, sql, [tuple(row) for row in rows[:10]])
            return
        parameters = [plan.parameters(self.columns, row) for row in rows]
        try:
            cursor.executemany(plan.sql, parameters)  # type: ignore[arg-type]  # all of one kind
            cursor.close()
        except connection.dialect.loaded_dbapi.Error as exc:
            _raise_as_sqlalchemy(connection, exc, cursor, plan.sql, parameters[:10])
