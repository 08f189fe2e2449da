"""A SELECT run on the driver's own cursor: for the one statement every seal scan makes.

SQLAlchemy's Core execution costs far more than the statement itself on the hot path (measured
here: about 85 µs of 115 µs on SQLite, 150 µs on PostgreSQL; ``bench/verify_http_bench.py``).
:class:`DriverRead` compiles its statement once per dialect, then hands the SQL string and the
parameters straight to the DBAPI cursor of the session's connection (so it runs in the session's
transaction, or outside one on a reading connection), and types the rows as SQLAlchemy would
(SQLite returns dates as text; the column types' own result processors turn them into dates).

Two cases go through SQLAlchemy after all, so nothing is lost for them:

- listeners on cursor execution (statement counters in the tests, tracing): they see the
  statement exactly as with ``connection.execute``;
A driver error is raised as SQLAlchemy would raise it: wrapped in the matching ``DBAPIError``
subclass; a dead connection is invalidated (``connection_invalidated``), and the pool replaced
as SQLAlchemy replaces it (a server that dropped one connection has dropped the others).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    """A statement as one dialect runs it: SQL text, how to order parameters, how to type rows."""

    sql: str
    positions: tuple[str, ...] | None  # parameter names in order (positional paramstyles)
    constants: Mapping[str, Any]  # the statement's own bound values (literals in the query)
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column index, result processor)

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
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled = self.statement.compile(dialect=dialect)
            processors = []
            for index, column in enumerate(self.statement.selected_columns):
                process = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if process is not None:
                    processors.append((index, process))
            plan = _Plan(
                sql=compiled.string,
                positions=tuple(compiled.positiontup or ()) if compiled.positional else None,
                constants=dict(compiled.params),  # the literals; the named ones come per call
                processors=tuple(processors),
            )
            self._plans[dialect.name] = plan  # same for every engine of the dialect
        return plan

    def rows(self, session: Session, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows for ``values`` (every bound parameter of the statement by name), typed."""
        connection = session.connection()
        if connection.dispatch.before_cursor_execute or connection.dispatch.after_cursor_execute:
            return self._through_sqlalchemy(connection, values)
        plan = self._plan(connection.dialect)
        dialect = connection.dialect
        dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        parameters = plan.parameters(values)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(plan.sql, parameters)
            fetched = cursor.fetchall()
            cursor.close()
        except dbapi_error as exc:
            dead = dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)  # type: ignore[arg-type]
            if dead:  # as SQLAlchemy does: this connection, and the pool's others of its age
                connection.invalidate(exc)
                connection.engine.dispose(close=False)
            raise DBAPIError.instance(
                plan.sql, parameters, exc, dbapi_error, connection_invalidated=dead, dialect=dialect
            ) from exc
        return [plan.row(raw) for raw in fetched]

    def _through_sqlalchemy(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in connection.execute(self.statement, dict(values))]
