"""Core statements compiled once per kind of dialect, run at the driver level.

Why: SQLAlchemy caches a compiled statement per dialect *object*, so a process that opens a new
engine for each unit of work (an Airflow task per chain poll) compiles every statement again
each time: for the chain watcher's dozen small statements, a larger share of a poll than the
statements themselves. Here a statement is built and compiled once per process and kind of
dialect (its class, parameter style and server version decide the SQL text, as for
``store.bulk``), and each run only processes its parameters with the column types' own bind
processors (what Core's ``execute`` applies) and hands SQL and values to the driver.

Only for statements whose bound values are all named (``sa.bindparam``) or constants, with
no expanding (``IN``) parameters, and whose selected columns need no result processing (the
driver's value is the value: integers and strings); ``Prepared`` refuses anything else when
it is built, so a statement that would return something Core converts cannot slip in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from paybridge.store.db import dialect_kind

Processor = Callable[[Any], Any]
#: a module-level function returning the statement: its identity names the statement
Builder = Callable[[], Any]


class Prepared:
    """One statement's SQL text for one kind of dialect, its parameters' order and processors,
    and its constants (already processed)."""

    def __init__(self, statement: Any, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("expanding or literal-execute parameters are not supported")
        if getattr(compiled, "escaped_bind_names", None):
            raise ValueError(f"bind names needing escapes: {compiled.escaped_bind_names}")
        for column in getattr(statement, "selected_columns", ()):
            impl = column.type.dialect_impl(dialect)
            if impl.result_processor(dialect, None) is not None:
                raise ValueError(f"{column} needs result processing; select it with Core")
        self.sql = str(compiled)
        self.positional = dialect.positional
        self.names: tuple[str, ...] = (
            tuple(compiled.positiontup or ()) if self.positional else tuple(compiled.binds)
        )
        self.known = frozenset(name for name, bind in compiled.binds.items() if bind.required)
        self.processors: dict[str, Processor] = {}
        self.constants: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:  # a named parameter: given at each run
                if processor is not None:
                    self.processors[name] = processor
            else:  # a constant of the statement (``column == "finalized"``)
                value = bind.effective_value
                self.constants[name] = value if processor is None else processor(value)

    def execute(self, connection: sa.Connection, /, **params: Any) -> sa.CursorResult[Any]:
        """Run with ``params`` (every named parameter, unprocessed values)."""
        values = dict(self.constants)
        processors = self.processors
        for name, value in params.items():
            processor = processors.get(name)
            values[name] = value if processor is None or value is None else processor(value)
        if params.keys() != self.known:
            raise TypeError(f"parameters {sorted(params)}, expected {sorted(self.known)}")
        if self.positional:
            return connection.exec_driver_sql(self.sql, tuple(values[n] for n in self.names))
        return connection.exec_driver_sql(self.sql, values)


_CACHE: dict[tuple[Any, ...], Prepared] = {}


def prepared(build: Builder, dialect: sa.Dialect) -> Prepared:
    """The statement ``build`` returns, prepared for this kind of dialect (built once)."""
    key = (build, *dialect_kind(dialect))
    statement = _CACHE.get(key)
    if statement is None:
        statement = _CACHE[key] = Prepared(build(), dialect)
    return statement


def run(connection: sa.Connection, build: Builder, /, **params: Any) -> sa.CursorResult[Any]:
    """Run the statement ``build`` returns on ``connection`` (prepared once per kind of
    dialect) with ``params``."""
    return prepared(build, connection.dialect).execute(connection, **params)
