"""How a unit of work runs its direct statements (direct.py): at once, or with its INSERTs held
to its end and sent as one statement (PostgreSQL).

Why: a successful sign-in reads its lock once more, then adds a device, a session and an audit
row. In a transaction that is six round trips to PostgreSQL: BEGIN, the read, three INSERTs
and COMMIT, each costing the server process and the database backend a few hundred
microseconds of CPU beside the wait. A unit of work that promises not to read back its own
writes (`deferred_writes`) lets them wait: its reads run outside a transaction while none has
begun, each seeing the last commit as it would inside one at PostgreSQL's READ COMMITTED, and
its INSERTs go out at the end as one statement of data-modifying CTEs, which PostgreSQL runs
as one atomic statement: two round trips.

A write made through SQLAlchemy meanwhile (a rehash, a lock) begins the transaction as usual;
the held INSERTs then go out inside it, before COMMIT. Either way the unit is all or nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter

from accessguard.storage.sql.direct import DirectStatement


class DirectRunner(Protocol):
    def read(self, statement: DirectStatement, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """The statement's first row, by column name, or None."""

    def insert(self, statement: DirectStatement, values: Mapping[str, Any]) -> None:
        """Add the row, now or when the unit of work ends."""


class RunNow:
    """Every statement runs when it is asked for, in the unit's transaction."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def read(self, statement: DirectStatement, values: Mapping[str, Any]) -> dict[str, Any] | None:
        return statement.first(self._conn, values)

    def insert(self, statement: DirectStatement, values: Mapping[str, Any]) -> None:
        statement.execute(self._conn, values)


class HoldInserts:
    """Reads outside a transaction until one has begun; INSERTs held until `send`.

    Only for psycopg: it switches the driver connection to autocommit for one statement at a
    time, and always back, so no later unit of work inherits it.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._held: Held = []

    def read(self, statement: DirectStatement, values: Mapping[str, Any]) -> dict[str, Any] | None:
        with self._outside_transaction():
            return statement.first(self._conn, values)

    def insert(self, statement: DirectStatement, values: Mapping[str, Any]) -> None:
        self._held.append((statement, values))

    def send(self) -> None:
        """The held INSERTs, in the order made, as one statement."""
        held, self._held = self._held, []
        if not held:
            return
        statement, values = as_one(held)
        with self._outside_transaction():
            statement.execute(self._conn, values)

    @contextmanager
    def _outside_transaction(self) -> Iterator[None]:
        """Autocommit for one statement while no transaction has begun (one statement is
        atomic on its own); inside the transaction once a write through SQLAlchemy began it."""
        driver: Any = self._conn.connection.driver_connection
        if driver.info.transaction_status != TransactionStatus.IDLE:
            yield
            return
        driver.autocommit = True
        try:
            yield
        finally:
            try:
                driver.autocommit = False
            except self._conn.dialect.loaded_dbapi.Error as error:
                # Only a broken connection refuses; it must never serve another unit of work
                # still in autocommit.
                if not self._conn.invalidated:
                    self._conn.invalidate(error)


Held = list[tuple[DirectStatement, Mapping[str, Any]]]


def as_one(held: Held) -> tuple[DirectStatement, Mapping[str, Any]]:
    """Held INSERTs, in the order made, as one statement and its values."""
    if len(held) == 1:
        return held[0]
    return combined(tuple(statement for statement, _ in held)), _renamed_values(held)


def as_one_where(
    held: Held, condition: sa.ColumnElement[bool], values: Mapping[str, Any]
) -> tuple[DirectStatement, Mapping[str, Any]]:
    """Held INSERTs as one statement that adds them only where `condition` holds, given its
    `values`; the statement returns a row when it added them (`combined_where`)."""
    statement = combined_where(tuple(statement for statement, _ in held), condition)
    return statement, {**_renamed_values(held), **values}


def _renamed_values(held: Held) -> dict[str, Any]:
    return {f"w{i}_{name}": value for i, (_, one) in enumerate(held) for name, value in one.items()}


@functools.cache
def combined(statements: tuple[DirectStatement, ...]) -> DirectStatement:
    """`WITH w0 AS (INSERT …), w1 AS (INSERT …) INSERT …`, its values named `w{i}_{column}`;
    built once for each sequence of INSERTs. The sequences are few, all of module-level
    statements (a sign-in holds device, session and audit row, or session and audit row for
    a known device; a refusal holds its audit row alone, sent as itself), so the cache stays
    small."""
    parts = [_renamed(statement, f"w{i}_") for i, statement in enumerate(statements)]
    last = parts[-1].add_cte(*(part.cte(f"w{i}") for i, part in enumerate(parts[:-1])))
    return DirectStatement(last)


@functools.cache
def combined_where(
    statements: tuple[DirectStatement, ...], condition: sa.ColumnElement[bool]
) -> DirectStatement:
    """The same INSERTs as `combined`, each adding its row only where `condition` holds (a
    module-level expression of its own bind parameters), and the last returning one row when
    they did: all or none, judged once in the statement's own snapshot. This lets a write
    carry the check it depends on (sign-in's lock, storage/signin_store.py) instead of a read
    of its own before it: one round trip fewer. An UPDATE may be held too (a known device's
    touch), its parameters renamed as an INSERT's values are."""
    gate = sa.select(sa.literal_column("1").label("open")).where(condition).cte("gate")
    parts = [_renamed(statement, f"w{i}_", gate=gate) for i, statement in enumerate(statements)]
    ctes = (gate, *(part.cte(f"w{i}") for i, part in enumerate(parts[:-1])))
    return DirectStatement(
        parts[-1].add_cte(*ctes).returning(sa.literal_column("1").label("written"))
    )


def _renamed(
    statement: DirectStatement, prefix: str, *, gate: sa.CTE | None = None
) -> sa.Insert | sa.Update:
    insert = statement.statement
    if gate is not None and isinstance(insert, sa.Update):
        # An UPDATE by its own parameters (a known device's touch), under the same gate.

        def rename(element: visitors.ExternallyTraversible, **_: Any) -> BindParameter[Any] | None:
            if not isinstance(element, BindParameter):
                return None
            return sa.bindparam(prefix + element.key, type_=element.type)

        renamed = visitors.replacement_traverse(insert, {}, rename)
        assert isinstance(renamed, sa.Update)  # noqa: S101 - traversal keeps the kind
        return renamed.where(sa.select(gate.c.open).exists())
    if not isinstance(insert, sa.Insert) or statement.keys is None:
        raise TypeError("only an INSERT of named columns can be held to the end")
    table = insert.table
    values = {
        name: sa.bindparam(prefix + name, type_=table.c[name].type) for name in statement.keys
    }
    if gate is None:
        return sa.insert(table).values(values)
    # PostgreSQL's dialects write each parameter with its type (`$1::VARCHAR`), which an
    # INSERT … SELECT needs: a bare parameter there gets no type from the target column.
    selected = sa.select(*values.values()).select_from(gate)
    return sa.insert(table).from_select(list(values), selected)
