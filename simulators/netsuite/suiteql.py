"""A small SuiteQL subset: enough for the queries PayBridge's connector sends, no more.

Supported: ``SELECT`` of columns / ``TO_CHAR(col, fmt)`` with ``AS`` aliases, ``FROM`` one table
with an alias, ``[INNER|LEFT] JOIN t a ON a.x = b.y [AND a.col = literal ...]``, ``WHERE`` with
``AND/OR/NOT``, comparisons, ``IS [NOT] NULL``, ``[NOT] IN (...)``, ``LIKE`` and
``TO_TIMESTAMP/TO_DATE('..', fmt)``, ``ORDER BY col [ASC|DESC], ...``. Anything else is answered
with a SuiteQL-style 400 so that a connector drifting away from this subset fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

Row = Mapping[str, Any]
Context = dict[str, Row | None]


class SuiteQLError(ValueError):
    """The query is outside the supported subset or malformed."""


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|<>|!=|=|<|>)"
    r"|(?P<punct>[(),*])|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?))",
)
_KEYWORDS = {
    "SELECT", "FROM", "WHERE", "ORDER", "BY", "AND", "OR", "NOT", "AS", "JOIN", "INNER",
    "LEFT", "OUTER", "ON", "IS", "NULL", "IN", "LIKE", "ASC", "DESC",
}  # fmt: skip


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SuiteQLError(f"Invalid search query syntax near: {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)  # type: ignore[arg-type]
        if kind == "str":
            tokens.append(("lit", value[1:-1].replace("''", "'")))
        elif kind == "num":
            tokens.append(("lit", Decimal(value) if "." in value else int(value)))
        elif kind == "name" and value.upper() in _KEYWORDS:
            tokens.append(("kw", value.upper()))
        else:
            tokens.append((kind or "", value))
    return tokens


def _oracle_to_strftime(fmt: str) -> str:
    out = fmt.replace('"T"', "T")
    for oracle, python in (("YYYY", "%Y"), ("HH24", "%H"), ("MI", "%M"), ("SS", "%S")):
        out = out.replace(oracle, python)
    return out.replace("MM", "%m").replace("DD", "%d")


Operand = Callable[[Context], Any]
Predicate = Callable[[Context], bool]


@dataclass(frozen=True)
class Join:
    table: str
    alias: str
    left: bool
    key_alias_col: tuple[str, str]  # column on the joined table
    other_col: tuple[str, str]  # column on a table already in scope
    literal_filters: tuple[tuple[str, Any], ...]
    column_filters: tuple[tuple[str, tuple[str, str]], ...] = ()  # join col = other alias col


@dataclass(frozen=True)
class Query:
    table: str
    alias: str
    columns: tuple[tuple[str, Operand], ...]
    joins: tuple[Join, ...]
    where: Predicate | None
    order: tuple[tuple[Operand, bool], ...]
    refs: tuple[tuple[str, str], ...] = ()  # every (alias, column) the query names


class _Parser:
    def __init__(self, text: str, time_zone: str = "UTC") -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.base_alias = ""
        self.zone = ZoneInfo(time_zone)
        self.refs: list[tuple[str, str]] = []

    def peek(self, offset: int = 0) -> tuple[str, Any]:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else ("eof", None)

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        self.pos += 1
        return token

    def accept_kw(self, *words: str) -> bool:
        if self.peek() == ("kw", words[0]) and all(
            self.peek(i) == ("kw", w) for i, w in enumerate(words)
        ):
            self.pos += len(words)
            return True
        return False

    def expect_kw(self, word: str) -> None:
        if not self.accept_kw(word):
            raise SuiteQLError(f"Invalid search query: expected {word} near token {self.peek()}")

    def expect_punct(self, char: str) -> None:
        if self.take() != ("punct", char):
            raise SuiteQLError(f"Invalid search query: expected {char!r}")

    def name(self) -> str:
        kind, value = self.take()
        if kind != "name":
            raise SuiteQLError(f"Invalid search query: expected a name, got {value!r}")
        return str(value).lower()

    def column_ref(self, name: str) -> tuple[str, str]:
        alias, col = name.split(".", 1) if "." in name else (self.base_alias, name)
        self.refs.append((alias, col))
        return alias, col

    def parse(self) -> Query:
        self.expect_kw("SELECT")
        start = self.pos
        while self.peek() != ("kw", "FROM"):
            if self.peek()[0] == "eof":
                raise SuiteQLError("Invalid search query: missing FROM")
            self.pos += 1
        select_tokens = self.tokens[start : self.pos]
        self.expect_kw("FROM")
        table = self.name()
        self.base_alias = self.name() if self.peek()[0] == "name" else table
        joins = []
        while self.peek() in (("kw", "JOIN"), ("kw", "INNER"), ("kw", "LEFT")):
            joins.append(self.join())
        # Parse the SELECT list now that the base alias is known.
        sub = _Parser.__new__(_Parser)
        sub.tokens, sub.pos, sub.base_alias = select_tokens, 0, self.base_alias
        sub.zone, sub.refs = self.zone, self.refs
        columns = sub.select_list()
        where = None
        if self.accept_kw("WHERE"):
            where = self.or_expr()
        order: list[tuple[Operand, bool]] = []
        if self.accept_kw("ORDER", "BY"):
            while True:
                operand = self.operand()
                descending = self.accept_kw("DESC")
                if not descending:
                    self.accept_kw("ASC")
                order.append((operand, descending))
                if self.peek() != ("punct", ","):
                    break
                self.take()
        if self.peek()[0] != "eof":
            raise SuiteQLError(f"Invalid search query: unexpected {self.peek()[1]!r}")
        return Query(
            table,
            self.base_alias,
            tuple(columns),
            tuple(joins),
            where,
            tuple(order),
            tuple(self.refs),
        )

    def select_list(self) -> list[tuple[str, Operand]]:
        columns: list[tuple[str, Operand]] = []
        while True:
            start_token = self.peek()
            operand = self.operand()
            if self.accept_kw("AS"):
                label = self.name()
            elif start_token[0] == "name":
                label = str(start_token[1]).lower().split(".")[-1]
            else:
                label = f"expr{len(columns) + 1}"
            columns.append((label, operand))
            if self.peek() != ("punct", ","):
                break
            self.take()
        if self.peek()[0] != "eof":
            raise SuiteQLError(f"Invalid search query: unexpected {self.peek()[1]!r} in SELECT")
        return columns

    def join(self) -> Join:
        left = self.accept_kw("LEFT")
        self.accept_kw("OUTER")
        if not left:
            self.accept_kw("INNER")
        self.expect_kw("JOIN")
        table = self.name()
        alias = self.name()
        self.expect_kw("ON")
        a = self.column_ref(self.name())
        if self.take() != ("op", "="):
            raise SuiteQLError("Invalid search query: JOIN ... ON supports equality only")
        b = self.column_ref(self.name())
        key, other = (a, b) if a[0] == alias else (b, a)
        if key[0] != alias:
            raise SuiteQLError("Invalid search query: JOIN condition must reference the join alias")
        filters, columns = [], []
        while self.peek() == ("kw", "AND") and self.peek(1)[0] == "name":
            ref = self.column_ref(str(self.peek(1)[1]).lower())
            if ref[0] != alias or self.peek(2) != ("op", "="):
                break
            kind, value = self.peek(3)
            if kind == "lit":
                filters.append((ref[1], value))
            elif kind == "name":
                columns.append((ref[1], self.column_ref(str(value).lower())))
            else:
                break
            self.pos += 4
        return Join(table, alias, left, key, other, tuple(filters), tuple(columns))

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.accept_kw("OR"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda ctx: any(p(ctx) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.not_expr()]
        while self.accept_kw("AND"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else (lambda ctx: all(p(ctx) for p in parts))

    def not_expr(self) -> Predicate:
        if self.accept_kw("NOT"):
            inner = self.not_expr()
            return lambda ctx: not inner(ctx)
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.or_expr()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        left = self.operand()
        if self.accept_kw("IS"):
            negate = self.accept_kw("NOT")
            self.expect_kw("NULL")
            return (
                (lambda ctx: left(ctx) is not None) if negate else (lambda ctx: left(ctx) is None)
            )
        negate = self.accept_kw("NOT")
        if self.accept_kw("IN"):
            self.expect_punct("(")
            values = []
            while True:
                kind, value = self.take()
                if kind != "lit":
                    raise SuiteQLError("Invalid search query: IN (...) takes literals only")
                values.append(value)
                if self.peek() != ("punct", ","):
                    break
                self.take()
            self.expect_punct(")")
            members = {_normal(v) for v in values}
            return lambda ctx: (_normal(left(ctx)) in members) != negate
        if self.accept_kw("LIKE"):
            kind, pattern = self.take()
            if kind != "lit":
                raise SuiteQLError("Invalid search query: LIKE takes a string literal")
            regex = re.compile(
                "^" + re.escape(str(pattern)).replace("%", ".*").replace("_", ".") + "$", re.S
            )
            return lambda ctx: (
                (left(ctx) is not None and bool(regex.match(str(left(ctx))))) != negate
            )
        kind, op = self.take()
        if kind != "op":
            raise SuiteQLError(f"Invalid search query: expected a comparison, got {op!r}")
        right = self.operand()
        return _compare(left, op, right)

    def operand(self) -> Operand:
        kind, value = self.take()
        if kind == "lit":
            return lambda ctx, v=value: v
        if kind != "name":
            raise SuiteQLError(f"Invalid search query: unexpected {value!r}")
        upper = str(value).upper()
        if upper in ("TO_CHAR", "TO_TIMESTAMP", "TO_DATE") and self.peek() == ("punct", "("):
            self.take()
            inner = self.operand()
            self.expect_punct(",")
            fmt_kind, fmt = self.take()
            if fmt_kind != "lit":
                raise SuiteQLError(f"Invalid search query: {upper} needs a format literal")
            self.expect_punct(")")
            pyfmt, zone = _oracle_to_strftime(str(fmt)), self.zone
            if upper == "TO_CHAR":
                return lambda ctx: _to_char(inner(ctx), pyfmt, zone)
            parse_date = upper == "TO_DATE"
            return lambda ctx: _to_time(inner(ctx), pyfmt, parse_date, zone)
        alias, col = self.column_ref(str(value).lower())
        return lambda ctx: (ctx.get(alias) or {}).get(col)


def _normal(value: Any) -> Any:
    if isinstance(value, int | Decimal):
        return Decimal(value)
    return value


def _to_char(value: Any, fmt: str, zone: ZoneInfo) -> str | None:
    """Timestamps are stored in UTC and shown in the user's time-zone preference."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).astimezone(zone).strftime(fmt)
    if isinstance(value, date):
        return value.strftime(fmt)
    return str(value)


def _to_time(value: Any, fmt: str, as_date: bool, zone: ZoneInfo) -> Any:
    """A literal timestamp is read in the user's time zone (the earlier of a repeated hour)."""
    try:
        parsed = datetime.strptime(str(value), fmt)
    except ValueError as exc:
        raise SuiteQLError(f"Invalid search query: {value!r} does not match format") from exc
    if as_date:
        return parsed.date()
    return parsed.replace(tzinfo=zone, fold=0).astimezone(UTC).replace(tzinfo=None)


def _compare(left: Operand, op: str, right: Operand) -> Predicate:
    def check(ctx: Context) -> bool:
        a, b = left(ctx), right(ctx)
        if a is None or b is None:
            return False
        if isinstance(a, datetime) and isinstance(b, datetime):
            a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
        a, b = _normal(a), _normal(b)
        if isinstance(a, Decimal) != isinstance(b, Decimal):
            a, b = str(a), str(b)
        if op == "=":
            return bool(a == b)
        if op in ("!=", "<>"):
            return bool(a != b)
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)

    return check


def parse(text: str, time_zone: str = "UTC") -> Query:
    return _Parser(text, time_zone).parse()


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, 0)
    if isinstance(value, datetime):
        return (0, value.replace(tzinfo=None))
    return (0, _normal(value))


def check_columns(query: Query, schema: Mapping[str, frozenset[str]]) -> None:
    """A column the record does not expose is an error in SuiteQL, not a silent NULL."""
    aliases = {query.alias: query.table, **{j.alias: j.table for j in query.joins}}
    for alias, column in query.refs:
        if alias not in aliases:
            raise SuiteQLError(f"Invalid search query: unknown table alias {alias!r}")
        table = aliases[alias]
        known = schema.get(table)
        if known is not None and column not in known and not column.startswith("cust"):
            raise SuiteQLError(
                f"Search error occurred: Field '{column}' for record '{table}' was not found."
            )


def execute(
    query: Query,
    tables: Mapping[str, Iterable[Row]],
    schema: Mapping[str, frozenset[str]] | None = None,
) -> list[dict[str, Any]]:
    """Run the query; rows come back with lower-case labels and raw Python values."""
    if query.table not in tables:
        raise SuiteQLError(f"Invalid search query: unknown table {query.table!r}")
    if schema is not None:
        check_columns(query, schema)
    indexes: dict[str, dict[Any, list[Row]]] = {}
    for join in query.joins:
        if join.table not in tables:
            raise SuiteQLError(f"Invalid search query: unknown table {join.table!r}")
        index: dict[Any, list[Row]] = {}
        for row in tables[join.table]:
            if all(row.get(c) == v for c, v in join.literal_filters):
                index.setdefault(_normal(row.get(join.key_alias_col[1])), []).append(row)
        indexes[join.alias] = index
    contexts: list[Context] = []
    for base in tables[query.table]:
        ctx_list: list[Context] = [{query.alias: base}]
        for join in query.joins:
            expanded: list[Context] = []
            for ctx in ctx_list:
                other = (ctx.get(join.other_col[0]) or {}).get(join.other_col[1])
                matches = [
                    m
                    for m in indexes[join.alias].get(_normal(other), [])
                    if all(
                        _normal(m.get(col)) == _normal((ctx.get(ref[0]) or {}).get(ref[1]))
                        for col, ref in join.column_filters
                    )
                ]
                if matches:
                    expanded.extend({**ctx, join.alias: m} for m in matches)
                elif join.left:
                    expanded.append({**ctx, join.alias: None})
            ctx_list = expanded
        if query.where is not None:
            ctx_list = [c for c in ctx_list if query.where(c)]
        contexts.extend(ctx_list)
    for operand, descending in reversed(query.order):
        contexts.sort(key=lambda c, o=operand: _sort_key(o(c)), reverse=descending)
    return [{label: op(ctx) for label, op in query.columns} for ctx in contexts]
