"""The few statements every sign-in runs, executed on the driver's own cursor.

Each is the repositories' SQLAlchemy statement, compiled once per dialect, run inside the same
SQLAlchemy connection and transaction, with SQLAlchemy's own type conversions on the way in
and out and its exception types on the way out (so `engine.unavailable` maps them, and a lost
connection is invalidated as SQLAlchemy would). What is skipped is the per-execution
machinery around the cursor: execution context, result object, event and cache bookkeeping.

Why: that machinery costs more CPU than the driver call itself (per statement here, about
56 µs against 22 µs on PostgreSQL and 17 µs against 2 µs on SQLite), and a successful sign-in
runs six to eight of these statements beside its hash, where every microsecond of Python
costs more than it does in a loop (docs/performance.md). Everything else stays on
SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

Convert = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Compiled:
    """A statement as one driver's SQL text, with SQLAlchemy's conversion of each value in
    and of each column out. The session reads run these on connections of their own."""

    sql: str
    names: tuple[str, ...]  # the bind parameters, in the driver's order when positional
    positional: bool
    binds: tuple[Convert, ...]
    columns: tuple[str, ...]
    results: tuple[Convert, ...]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters: a tuple in order when positional, else by name."""
        converted = [
            convert(values[name]) if convert else values[name]
            for name, convert in zip(self.names, self.binds, strict=True)
        ]
        if self.positional:
            return tuple(converted)
        return dict(zip(self.names, converted, strict=True))

    def row(self, values: Sequence[Any]) -> dict[str, Any]:
        """A fetched row, by column name, each value as SQLAlchemy would give it."""
        return {
            name: convert(value) if convert else value
            for name, convert, value in zip(self.columns, self.results, values, strict=True)
        }


class DirectStatement:
    """One SQLAlchemy statement, run on the driver cursor of a SQLAlchemy connection.

    `keys` names the values an INSERT is given, so it compiles to exactly those columns.
    """

    def __init__(self, statement: sa.ClauseElement, keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.keys = tuple(keys) if keys is not None else None
        # By dialect and driver: psycopg and asyncpg are both "postgresql", with other SQL.
        self._by_driver: dict[tuple[str, str], Compiled] = {}

    def first(self, conn: sa.Connection, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row, by column name, or None."""
        compiled = self.compiled(conn.dialect)
        row = self._run(conn, compiled, values, fetch=True)
        return None if row is None else compiled.row(row)

    def execute(self, conn: sa.Connection, values: Mapping[str, Any]) -> None:
        self._run(conn, self.compiled(conn.dialect), values, fetch=False)

    def compiled(self, dialect: sa.Dialect) -> Compiled:
        key = (dialect.name, dialect.driver)
        found = self._by_driver.get(key)
        if found is None:
            found = self._by_driver[key] = self._compile(dialect)
        return found

    def _run(
        self, conn: sa.Connection, compiled: Compiled, values: Mapping[str, Any], *, fetch: bool
    ) -> Any:
        parameters = compiled.parameters(values)
        dialect = conn.dialect
        driver = conn.connection.driver_connection
        assert driver is not None  # noqa: S101 - a checked-out connection has one
        cursor = driver.cursor()
        try:
            cursor.execute(compiled.sql, parameters)
            return cursor.fetchone() if fetch else None
        except dialect.loaded_dbapi.Error as error:
            lost = dialect.is_disconnect(error, driver, cursor)
            if lost:
                conn.invalidate(error)
            raise sa.exc.DBAPIError.instance(
                compiled.sql,
                parameters,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=dialect,
            ) from error
        finally:
            cursor.close()

    def _compile(self, dialect: sa.Dialect) -> Compiled:
        compiled = self.statement.compile(
            dialect=dialect, column_keys=list(self.keys) if self.keys is not None else None
        )
        assert isinstance(compiled, SQLCompiler)  # noqa: S101 - a statement compiles to SQL
        names = tuple(compiled.positiontup or ()) if dialect.positional else tuple(compiled.binds)
        binds = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        selected = (
            self.statement.selected_columns if isinstance(self.statement, sa.Select) else None
        )
        return Compiled(
            sql=str(compiled),
            names=names,
            positional=dialect.positional,
            binds=binds,
            columns=tuple(selected.keys()) if selected is not None else (),
            results=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in (selected if selected is not None else ())
            ),
        )
