"""In-process scorer: evaluates a trained Splink model's comparison levels in Python, per pair, in µs.

Splink's own per-call cost (~55-180 ms) is too slow for the online path, which scores tens of
candidates per incoming record within 10 ms. `Scorer` reads the same model JSON Splink reads, compiles
each level's `sql_condition` (parsed with sqlglot, Splink's own SQL parser) into Python source — one
generated function picks every comparison's level for a pair (`_Source`) —, and sums match weights
exactly as Splink's predict SQL does:

- SQL three-valued logic: a comparison with NULL is NULL, a level is taken only when its condition is
  TRUE, the first such level wins (Splink's `CASE WHEN`), `ELSE` is the last level; a null level
  (`is_null_level`) has weight 0.
- level weight = log2(m / u) with m, u clamped to >= 1e-300. A level without numeric m and u is
  refused: Splink would substitute hidden position-based defaults for it (`linkage.training` writes
  every number out).
- term-frequency adjustment on a level with `tf_adjustment_column` c and weight w:
  w * (log2(u_exact) - log2(max(tf_l ?? tf_r, tf_r ?? tf_l, tf_minimum_u_value))), where u_exact is the
  u of the comparison's level that is exactly `c_l = c_r`, and tf_x is the relative frequency of x's
  value of c in the supplied TF table; 0 when neither value is in the table.
- match weight = log2(p / (1 - p)) + sum of the above (p = probability_two_random_records_match);
  probability = 2^w / (1 + 2^w), computed on the stable side as Splink does.
- string functions follow DuckDB: `jaro_winkler_similarity` (0.0 when a side is empty; rapidfuzz's
  prefix weight 0.1 otherwise), `jaro_similarity`, `levenshtein`, `damerau_levenshtein` (unrestricted
  Damerau, like DuckDB's), all NULL-propagating.
`tests/linkage/test_scorer_parity.py` holds this equal to Splink's predict within 1e-6.

Unsupported SQL fails when the model is loaded, never silently at scoring time.

Candidate retrieval is the caller's job (`mpi` identity layer); it should fetch candidates with
indexed equality look-ups on the model's blocking keys (`linkage.model.BLOCKING_RULES`): composite
indexes on (given_key, dob_date), (family_key, given_key, dob_year), (family_key, dob_date) and single
indexes on national_id, bhxh_number, phone, (given_key, commune_code) — one UNION of index scans per
incoming record, capped in size (a shared phone or a placeholder ID can return many rows).

Pure and thread-safe after construction (TF tables are replaced, not mutated, by `with_tf_tables`).
Never logs a value.
"""

from __future__ import annotations

import copy
import math
import operator
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import sqlglot
from rapidfuzz.distance import DamerauLevenshtein, Jaro, JaroWinkler, Levenshtein
from sqlglot import expressions as exp

from linkage.model import ModelRow, model_row, model_table

__all__ = [
    "ComparisonExplanation",
    "Explanation",
    "PairScore",
    "Scorer",
    "TfTables",
    "WaterfallBar",
    "build_tf_tables",
    "explain",
    "tf_columns",
]

Value = Any  # a SQL value: str, int, float, bool or None (NULL)
Row = Mapping[str, Value]
TfTables = Mapping[str, Mapping[Value, float]]
_Fn = Callable[[Row, Row], Value]

_CLAMP_MIN: Final = 1e-300


# ---- SQL -> Python ---------------------------------------------------------------------------------
class UnsupportedSql(ValueError):
    """A comparison level uses SQL the scorer cannot evaluate exactly as DuckDB does."""


def _side_column(node: exp.Column) -> tuple[str, str]:
    """('l' or 'r', input column) for `"given_l"` or `l.given`."""
    name = node.name
    table = node.table
    if table in ("l", "r"):
        return table, name
    if name.endswith(("_l", "_r")):
        return name[-1], name[:-2]
    raise UnsupportedSql(f"column {name!r} is not a left/right input column")


def _jaro_winkler(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    return float(JaroWinkler.similarity(a, b))


def _jaro(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    return float(Jaro.similarity(a, b))


_FUNCTIONS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "jaro_winkler_similarity": _jaro_winkler,
    "jaro_similarity": _jaro,
    "levenshtein": Levenshtein.distance,
    "damerau_levenshtein": DamerauLevenshtein.distance,
}
_BINARY_FUNCTIONS: Final[dict[type[exp.Expression], str]] = {
    exp.JarowinklerSimilarity: "jaro_winkler_similarity",
    exp.Levenshtein: "levenshtein",
}


def _flatten(node: exp.Expression, kind: type[exp.Expression]) -> list[exp.Expression]:
    if isinstance(node, kind):
        return _flatten(node.this, kind) + _flatten(node.expression, kind)
    return [node]


def _columns_eq(node: exp.Expression) -> tuple[str, str] | None:
    """(left column, right column) when node is `"x_l" = "y_r"`-shaped; else None."""
    if isinstance(node, exp.EQ) and isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Column):
        (sa, ca), (sb, cb) = _side_column(node.this), _side_column(node.expression)
        if {sa, sb} == {"l", "r"}:
            return (ca, cb) if sa == "l" else (cb, ca)
    return None


_OPERATORS: Final[dict[type[exp.Expression], str]] = {
    exp.EQ: "==",
    exp.NEQ: "!=",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


_UNSET: Final = object()
"""A repeated function call not evaluated yet for the pair (:class:`_Source`)."""


def _repeated_calls(conditions: Iterable[str]) -> frozenset[str]:
    """The function calls (their SQL) written more than once over these conditions."""
    seen: Counter[str] = Counter()
    for sql in conditions:
        seen.update(node.sql(dialect="duckdb") for node in _parse(sql).find_all(exp.Anonymous, *_BINARY_FUNCTIONS))
    return frozenset(call for call, count in seen.items() if count > 1)


class _Source:
    """Python source for SQL conditions over a pair of rows, with SQL's three-valued logic made two-valued.

    A level is taken when its condition is TRUE, so a condition compiles to the Python boolean expression
    "the SQL value is TRUE" (:meth:`test` with ``want=True``), built from "is TRUE" and "is FALSE" of its parts:
    ``a AND b`` is TRUE when both are TRUE and FALSE when either is FALSE; ``a OR b`` the other way round;
    ``NOT a`` is TRUE when ``a`` is FALSE; a comparison is TRUE or FALSE only when neither side is NULL;
    ``x IS NULL`` is never NULL. A value (:meth:`value`) is a Python expression that is ``None`` for NULL:
    a function or arithmetic of a NULL is NULL. Each input column is read once, into a local of the
    generated function (``l.get(...)``, ``r.get(...)``), and the whole condition is one Python expression
    (no call per SQL node): about twice as fast per pair as a tree of closures, one per SQL node, with
    the same answers. A function call written more than once over the conditions compiled together
    (``repeated``, e.g. the same similarity tested against two thresholds by two levels) is computed at most
    once per pair: kept in a local the first time it is evaluated (the functions are pure).
    """

    def __init__(self, repeated: frozenset[str] = frozenset()) -> None:
        self.reads: dict[tuple[str, str], str] = {}
        self.names: dict[str, Any] = {"_unset": _UNSET}
        self._temps = 0
        self._repeated = repeated
        self._calls: dict[str, str] = {}
        """The SQL of each repeated call -> the local keeping its value (``_unset`` until evaluated)."""

    def _column(self, node: exp.Column) -> str:
        side, column = _side_column(node)
        name = self.reads.get((side, column))
        if name is None:
            name = self.reads[(side, column)] = f"{side}{len(self.reads)}"
        return name

    def _temp(self) -> str:
        self._temps += 1
        return f"_t{self._temps}"

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.names)}"
        self.names[name] = value
        return name

    def _null_propagating(self, args: list[exp.Expression], combine: Callable[[list[str]], str]) -> str:
        temps = [self._temp() for _ in args]
        nulls = " or ".join(f"({t} := {self.value(a)}) is None" for t, a in zip(temps, args, strict=True))
        return f"(None if {nulls} else {combine(temps)})"

    def value(self, node: exp.Expression) -> str:
        """A Python expression for the node's SQL value; refuses a condition used as a value."""
        if isinstance(node, exp.Paren):
            return self.value(node.this)
        if isinstance(node, exp.Column):
            return self._column(node)
        if isinstance(node, exp.Literal):
            return self.constant(node.this if node.is_string else _number(node.this))
        if isinstance(node, exp.Null):
            return "None"
        if isinstance(node, exp.Abs):
            return self._null_propagating([node.this], lambda t: f"abs({t[0]})")
        if isinstance(node, exp.Sub | exp.Add):
            sign = "-" if isinstance(node, exp.Sub) else "+"
            return self._null_propagating([node.this, node.expression], lambda t: f"{t[0]} {sign} {t[1]}")
        name: str | None = None
        args: list[exp.Expression] = []
        for kind, fn_name in _BINARY_FUNCTIONS.items():
            if isinstance(node, kind):
                name, args = fn_name, [node.this, node.expression]
        if isinstance(node, exp.Anonymous):
            name, args = str(node.this).lower(), list(node.expressions)
        if name is not None and name in _FUNCTIONS and len(args) == 2:
            fn = self.constant(_FUNCTIONS[name])
            call = self._null_propagating(args, lambda t: f"{fn}({t[0]}, {t[1]})")
            sql = node.sql(dialect="duckdb")
            if sql not in self._repeated:
                return call
            kept = self._calls.setdefault(sql, f"_c{len(self._calls)}")
            return f"({kept} if {kept} is not _unset else ({kept} := {call}))"
        raise UnsupportedSql(f"unsupported SQL in comparison level: {node.sql(dialect='duckdb')}")

    def test(self, node: exp.Expression, want: bool) -> str:
        """A Python boolean expression: whether the condition's SQL value is TRUE (``want``) or FALSE."""
        if isinstance(node, exp.Paren):
            return self.test(node.this, want)
        if isinstance(node, exp.Boolean):
            return str(bool(node.this) is want)
        if isinstance(node, exp.Null):
            return "False"  # NULL is neither TRUE nor FALSE
        if isinstance(node, exp.And | exp.Or):
            all_of = isinstance(node, exp.And) is want  # TRUE AND, FALSE OR: every part; else any part
            parts = [self.test(part, want) for part in _flatten(node, type(node))]
            return "(" + (" and " if all_of else " or ").join(parts) + ")"
        if isinstance(node, exp.Not):
            return self.test(node.this, not want)
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise UnsupportedSql(f"IS {node.expression.sql()}")
            return f"({self.value(node.this)} is {'' if want else 'not '}None)"
        for kind, op in _OPERATORS.items():
            if isinstance(node, kind):
                a, b = self._temp(), self._temp()
                holds = f"{a} {op} {b}" if want else f"not ({a} {op} {b})"
                x, y = self.value(node.this), self.value(node.expression)
                return f"(({a} := {x}) is not None and ({b} := {y}) is not None and {holds})"
        raise UnsupportedSql(f"not a condition: {node.sql(dialect='duckdb')}")

    def function(self, name: str, body: list[str]) -> Callable[..., Any]:
        """``def name(l, r)``: the column reads, then ``body`` (lines of Python)."""
        reads = [f"{var} = {side}.get({column!r})" for (side, column), var in self.reads.items()]
        lines = [*reads, *self._unset_calls(), *body]
        return self._compile(name, "\n".join([f"def {name}(l, r):", *(f"    {line}" for line in lines)]))

    def bound_function(self, name: str, body: list[str], arguments: Sequence[str] = ()) -> Callable[..., Any]:
        """``def bind(l, *arguments)`` returning ``def name(r)``: the left row's columns are read once, when
        bound, and each call reads only the right row's, then runs ``body`` (which may use ``arguments``). For
        one row scored against many (the online path's record against its candidates)."""
        left = [f"{var} = l.get({column!r})" for (side, column), var in self.reads.items() if side == "l"]
        right = {column: var for (side, column), var in self.reads.items() if side == "r"}
        reads = [f"{var} = r.get({column!r})" for column, var in right.items()]
        if len(right) > 1:
            # a row with every column (a model row always has: linkage.model.model_row) is read in one C call
            self.names["_right_columns"] = operator.itemgetter(*right)
            reads = ["try:", f"    {', '.join(right.values())} = _right_columns(r)", "except KeyError:"] + [
                f"    {line}" for line in reads
            ]
        lines = [f"def bind({', '.join(['l', *arguments])}):", *(f"    {line}" for line in left), f"    def {name}(r):"]
        lines += [f"        {line}" for line in [*reads, *self._unset_calls(), *body]]
        lines.append(f"    return {name}")
        return self._compile("bind", "\n".join(lines))

    def _unset_calls(self) -> list[str]:
        """The line starting each pair with every repeated call not evaluated yet."""
        return [" = ".join([*self._calls.values(), "_unset"])] if self._calls else []

    def _compile(self, name: str, source: str) -> Callable[..., Any]:
        namespace = dict(self.names)
        exec(compile(source, f"<sql {name}>", "exec"), namespace)  # noqa: S102 - our own generated source
        return namespace[name]  # type: ignore[no-any-return]


def _parse(sql: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise UnsupportedSql(f"cannot parse comparison level SQL: {sql}") from error
    if not isinstance(tree, exp.Expression):
        raise UnsupportedSql(f"not an SQL expression: {sql}")
    return tree


def compile_condition(sql: str) -> _Fn:
    """A Python function `(left_row, right_row) -> True/False/None` for a level's SQL condition."""
    source = _Source()
    tree = _parse(sql)
    true, false = source.test(tree, True), source.test(tree, False)
    return source.function("condition", [f"return True if {true} else False if {false} else None"])


def _levels_chooser(comparisons: Sequence[Sequence[_Level]]) -> Callable[[Row, Row], tuple[_Level, ...]]:
    """One function choosing every comparison's level for a pair: per comparison, the first level whose
    condition is TRUE, else its ELSE level (each input column read once for all comparisons)."""
    source = _levels_source(comparisons)
    return source.function("choose_levels", source.body)


_Weigher = Callable[[Row], float]
_TermOf = Callable[["_Level", Value], float | None]


def _bound_weigher(
    comparisons: Sequence[Sequence[_Level]],
) -> Callable[[Row, float, dict[tuple[int, Value], float | None], _TermOf], _Weigher]:
    """One function summing a pair's match weight, with the left row bound first:
    ``bind(left, prior, memo, term_of)(right)`` is :meth:`Scorer.match_weight` of the pair, the same float.

    The levels are chosen by the conditions of :func:`_levels_chooser`, and the weights are added in the
    same order as there — the prior, then per comparison its level's weight and, when the level carries one,
    its term-frequency adjustment —, so every sum is the same float. A comparison none of whose levels
    carries an adjustment adds its level's weight straight from the condition chain (the weight is a
    constant of the generated code: no level object, no loop over the levels). An adjustment is
    ``term_of(level, right value)`` (None: nothing added), kept in ``memo`` per level and right value: with
    the left row fixed it depends on nothing else.
    """
    source = _LevelsSource(_repeated_in(comparisons))
    body = ["_total = _prior"]
    for levels in comparisons:
        adjusted = any(level.tf_column is not None for level in levels)
        chain = _level_chain(source, levels, (lambda level: level) if adjusted else (lambda level: level.weight))
        if not adjusted:
            body.append(f"_total += {chain}")
            continue
        body += [
            f"_level = {chain}",
            "_total += _level.weight",
            "if _level.tf_column is not None:",
            "    _key = (id(_level), r.get(_level.tf_column))",
            "    if _key in _memo:",
            "        _term = _memo[_key]",
            "    else:",
            "        _term = _memo[_key] = _term_of(_level, _key[1])",
            "    if _term is not None:",
            "        _total += _term",
        ]
    body.append("return _total")
    return source.bound_function("weigh", body, ("_prior", "_memo", "_term_of"))


class _LevelsSource(_Source):
    body: list[str]


def _repeated_in(comparisons: Sequence[Sequence[_Level]]) -> frozenset[str]:
    return _repeated_calls(level.sql for levels in comparisons for level in levels if level.sql is not None)


def _level_chain(source: _Source, levels: Sequence[_Level], chosen: Callable[[_Level], Any]) -> str:
    """A Python expression for one comparison: ``chosen(level)`` of its first level whose condition is TRUE,
    else of its ELSE level (Splink's ``CASE WHEN``)."""
    parts = []
    for level in levels:
        if level.sql is None:
            parts.append(source.constant(chosen(level)))
            break
        parts.append(f"{source.constant(chosen(level))} if {source.test(_parse(level.sql), True)} else")
    return "(" + " ".join(parts) + ")"


def _levels_source(comparisons: Sequence[Sequence[_Level]]) -> _LevelsSource:
    source = _LevelsSource(_repeated_in(comparisons))
    chosen = [_level_chain(source, levels, lambda level: level) for levels in comparisons]
    source.body = [f"return ({', '.join(chosen)},)"]
    return source


# ---- the model -------------------------------------------------------------------------------------
def _probability(level: Mapping[str, Any], key: str) -> float | None:
    value = level.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class _Level:
    label: str
    gamma: int  # Splink's comparison vector value: -1 null level, then n-1 .. 0 down to ELSE
    sql: str | None  # the condition; None for ELSE
    weight: float
    tf_column: str | None
    tf_weight: float
    tf_min_u: float
    log2_u_exact: float


@dataclass(frozen=True, slots=True)
class _Comparison:
    name: str
    levels: tuple[_Level, ...]


@dataclass(frozen=True, slots=True)
class ComparisonExplanation:
    """How one comparison scored: the level taken, its weight and its term-frequency adjustment."""

    comparison: str
    gamma: int
    label: str
    match_weight: float
    tf_adjustment: float


@dataclass(frozen=True, slots=True)
class PairScore:
    match_weight: float
    match_probability: float
    comparisons: tuple[ComparisonExplanation, ...]


def probability_from_weight(weight: float) -> float:
    """2^w / (1 + 2^w), computed without overflow (as Splink's predict SQL does)."""
    if weight >= 0:
        return 1.0 / (1.0 + math.pow(2.0, -weight))
    power = math.pow(2.0, weight)
    return power / (1.0 + power)


def _exact_match_u(levels: list[Mapping[str, Any]], column: str) -> float:
    """u of the level whose condition is exactly `column_l = column_r` (Splink's TF base)."""
    for level in levels:
        if level.get("is_null_level") or level["sql_condition"].strip().upper() == "ELSE":
            continue
        try:
            tree = sqlglot.parse_one(level["sql_condition"], read="duckdb")
        except sqlglot.errors.ParseError:
            continue
        while isinstance(tree, exp.Paren):
            tree = tree.this
        if isinstance(tree, exp.Expression) and _columns_eq(tree) == (column, column):
            u = _probability(level, "u_probability")
            if u is None:
                raise UnsupportedSql(f"exact-match level on {column} has no u probability")
            return u
    raise UnsupportedSql(f"no exact-match level on {column} for its term-frequency adjustment")


def _compile_comparison(comparison: Mapping[str, Any]) -> _Comparison:
    raw_levels: list[Mapping[str, Any]] = comparison["comparison_levels"]
    if not raw_levels or raw_levels[-1]["sql_condition"].strip().upper() != "ELSE":
        raise UnsupportedSql(f"comparison {comparison.get('output_column_name')!r} must end with an ELSE level")
    non_null = [level for level in raw_levels if not level.get("is_null_level")]
    gamma = len(non_null) - 1
    levels: list[_Level] = []
    for level in raw_levels:
        sql = level["sql_condition"].strip()
        is_else = sql.upper() == "ELSE"
        is_null = bool(level.get("is_null_level"))
        if is_null:
            weight, level_gamma = 0.0, -1
        else:
            m, u = _probability(level, "m_probability"), _probability(level, "u_probability")
            if m is None or u is None:
                raise UnsupportedSql(f"level {level.get('label_for_charts')!r} has no m or u probability")
            weight = math.log2(max(m, _CLAMP_MIN) / max(u, _CLAMP_MIN))
            level_gamma, gamma = gamma, gamma - 1
        tf_column = level.get("tf_adjustment_column")
        tf_weight = float(level.get("tf_adjustment_weight", 0.0) if tf_column else 0.0)
        log2_u_exact = 0.0
        if tf_column and tf_weight != 0 and not is_else and not is_null:
            if level.get("disable_tf_exact_match_detection"):
                u_exact = _probability(level, "u_probability")
                assert u_exact is not None  # checked above
            else:
                u_exact = _exact_match_u(raw_levels, tf_column)
            log2_u_exact = math.log2(u_exact)
        else:
            tf_column, tf_weight = None, 0.0
        levels.append(
            _Level(
                label=str(level.get("label_for_charts", sql)),
                gamma=level_gamma,
                sql=None if is_else else sql,
                weight=weight,
                tf_column=tf_column,
                tf_weight=tf_weight,
                tf_min_u=float(level.get("tf_minimum_u_value", 0.0)),
                log2_u_exact=log2_u_exact,
            )
        )
    _levels_chooser([levels])  # refuses SQL it cannot evaluate, when the model is loaded
    return _Comparison(name=str(comparison.get("output_column_name", "")), levels=tuple(levels))


def _tf_term(level: _Level, tf_l: float | None, tf_r: float | None) -> float:
    """A level's term-frequency adjustment given the relative frequencies of the two values (None: not in
    the table); 0 when neither is known."""
    if tf_l is None:
        if tf_r is None:
            return 0.0
        tf_l = tf_r
    elif tf_r is None:
        tf_r = tf_l
    return level.tf_weight * (level.log2_u_exact - math.log2(max(tf_l, tf_r, level.tf_min_u)))


def tf_columns(model: Mapping[str, Any]) -> list[str]:
    """The model's term-frequency columns, in order of first use."""
    columns: list[str] = []
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            column = level.get("tf_adjustment_column")
            if column and column not in columns:
                columns.append(column)
    return columns


def build_tf_tables(
    records: pa.Table | Iterable[Mapping[str, Any]], columns: Iterable[str]
) -> dict[str, dict[Value, float]]:
    """Relative frequency of each value of each column among the records where it is not NULL.

    Same definition as Splink's `compute_tf_table`. `records` are canonical rows or model rows; the
    model's derived columns are added when missing. Refresh as the population grows.
    """
    wanted = list(columns)
    table = records if isinstance(records, pa.Table) else pa.Table.from_pylist(list(records))
    if any(column not in table.column_names for column in wanted):
        table = model_table(table)
    tables: dict[str, dict[Value, float]] = {}
    for column in wanted:
        counts = Counter(value for value in table.column(column).to_pylist() if value is not None)
        total = sum(counts.values())
        tables[column] = {value: count / total for value, count in counts.items()} if total else {}
    return tables


_COMPILED: dict[str, Scorer] = {}
_COMPILED_LOCK = threading.Lock()


class Scorer:
    """Scores pairs of model rows (`linkage.model.model_row`) with a trained Splink model.

    `Scorer(model_json_dict, tf_tables)`; `score(a, b)` gives weight, probability and per-comparison
    explanations, `match_weight(a, b)` only the weight (the fast path).
    """

    def __init__(self, model: Mapping[str, Any], tf_tables: TfTables | None = None) -> None:
        self._model = model
        prior = float(model["probability_two_random_records_match"])
        self._prior_weight = math.log2(prior / (1 - prior))
        self._comparisons = tuple(_compile_comparison(c) for c in model["comparisons"])
        self._choose = _levels_chooser([c.levels for c in self._comparisons])
        self._weigher = _bound_weigher([c.levels for c in self._comparisons])
        self._tf_columns = tf_columns(model)
        self._tf: TfTables = tf_tables or {}
        self._input_columns = tuple(_input_columns(c) for c in model["comparisons"])

    @classmethod
    def compiled(cls, model: Mapping[str, Any], model_id: str) -> Scorer:
        """The scorer of ``model`` without TF tables, compiled once per process and model id.

        Compiling parses every comparison's SQL (a tenth of a second); a model id is the hash of the
        model's content, so one id is one scorer, and a scorer never changes once built (other TF tables
        make a copy, see `with_tf_tables`): every app or linker of the process can share it.
        """
        with _COMPILED_LOCK:
            scorer = _COMPILED.get(model_id)
            if scorer is None:
                scorer = _COMPILED[model_id] = cls(model)
            return scorer

    @classmethod
    def from_path(cls, path: Path, tf_tables: TfTables | None = None) -> Scorer:
        import json

        return cls(json.loads(path.read_text(encoding="utf-8")), tf_tables)

    def with_tf_tables(self, tf_tables: TfTables) -> Scorer:
        """A scorer for the same model with other TF tables (e.g. refreshed from a larger population).

        Cheap: the compiled comparisons are shared, only the lookups differ (the online path makes one
        per incoming record, with the frequencies of that record's and its candidates' values).
        """
        scorer = copy.copy(self)
        scorer._tf = tf_tables
        return scorer

    @property
    def tf_columns(self) -> list[str]:
        return list(self._tf_columns)

    @property
    def prior_weight(self) -> float:
        return self._prior_weight

    @staticmethod
    def prepare(row: Row) -> ModelRow:
        """A canonical row (`CanonicalRecord.to_row()`) as the model's input row."""
        return model_row(row)

    def _tf_adjustment(self, level: _Level, left: Row, right: Row) -> float:
        assert level.tf_column is not None
        table = self._tf.get(level.tf_column)
        if table is None:
            return 0.0
        lv, rv = left.get(level.tf_column), right.get(level.tf_column)
        return _tf_term(level, table.get(lv) if lv is not None else None, table.get(rv) if rv is not None else None)

    def match_weight(self, left: Row, right: Row) -> float:
        total = self._prior_weight
        for level in self._choose(left, right):
            total += level.weight
            if level.tf_column is not None:
                total += self._tf_adjustment(level, left, right)
        return total

    def match_weights(self, left: Row, rights: Iterable[Row]) -> list[float]:
        """``[match_weight(left, right) for right in rights]``, the same floats, in one pass: the left row's
        columns are read once and each pair's weight is summed by one generated function
        (:func:`_bound_weigher`), and each term-frequency adjustment is computed once per level and right
        value (with the left row fixed it depends on nothing else; a record's candidates share most values —
        its namesakes its name). The online path's record against its candidates."""
        tf = self._tf

        def term_of(level: _Level, rv: Value) -> float | None:
            return self._tf_term_against(level, left, rv, tf)

        weigh = self._weigher(left, self._prior_weight, {}, term_of)
        return [weigh(right) for right in rights]

    @staticmethod
    def _tf_term_against(level: _Level, left: Row, rv: Value, tf: TfTables) -> float | None:
        """A level's term-frequency adjustment for the left row against a right value; None without a TF
        table for its column (nothing is added, as :meth:`match_weight` adds nothing)."""
        assert level.tf_column is not None
        table = tf.get(level.tf_column)
        if table is None:
            return None
        lv = left.get(level.tf_column)
        return _tf_term(level, table.get(lv) if lv is not None else None, table.get(rv) if rv is not None else None)

    def score(self, left: Row, right: Row) -> PairScore:
        total = self._prior_weight
        explanations: list[ComparisonExplanation] = []
        for comparison, level in zip(self._comparisons, self._choose(left, right), strict=True):
            tf = self._tf_adjustment(level, left, right) if level.tf_column is not None else 0.0
            total += level.weight + tf
            explanations.append(ComparisonExplanation(comparison.name, level.gamma, level.label, level.weight, tf))
        return PairScore(total, probability_from_weight(total), tuple(explanations))


# ---- explanation: Splink's waterfall, from the same numbers ----------------------------------------
def _input_columns(comparison: Mapping[str, Any]) -> tuple[str, ...]:
    """The input columns a comparison's levels read, in order of first use."""
    columns: list[str] = []
    for level in comparison["comparison_levels"]:
        sql = level["sql_condition"].strip()
        if sql.upper() == "ELSE":
            continue
        for node in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column):
            _, column = _side_column(node)
            if column not in columns:
                columns.append(column)
    return tuple(columns)


@dataclass(frozen=True, slots=True)
class WaterfallBar:
    """One bar of Splink's waterfall chart (``records_to_waterfall_data``): the prior, a comparison's
    level, a comparison's term-frequency adjustment, or the final score."""

    column_name: str
    """``Prior``, the comparison's output column, ``tf_<comparison>`` or ``Final score``."""
    label: str
    log2_bayes_factor: float
    """The match weight this bar adds (the final bar: the total)."""
    comparison_vector_value: int | None
    value_l: str
    value_r: str
    term_frequency_adjustment: bool


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a pair scored what it did: prior + each comparison's level weight + its TF adjustment = total."""

    bars: tuple[WaterfallBar, ...]
    match_weight: float
    match_probability: float

    @property
    def prior_weight(self) -> float:
        return self.bars[0].log2_bayes_factor


def explain(scorer: Scorer, left: Row, right: Row) -> Explanation:
    """Splink's waterfall data for one pair, computed by ``scorer`` (same levels, weights and TF tables).

    Bars in Splink's order: the prior, then per comparison its level and, when the comparison has
    term-frequency adjustments, a TF bar (0 when the level taken has none), then the final score. The bars
    add up to ``match_weight``, which is ``scorer.score(left, right).match_weight``.
    """
    scored = scorer.score(left, right)
    bars = [WaterfallBar("Prior", "Starting match weight (prior)", scorer.prior_weight, None, "", "", False)]
    for comparison, explanation, columns in zip(
        scorer._comparisons, scored.comparisons, scorer._input_columns, strict=True
    ):
        value_l = ", ".join(str(left.get(c)) for c in columns)
        value_r = ", ".join(str(right.get(c)) for c in columns)
        gamma = explanation.gamma
        # Splink labels a bar by its comparison vector value: every null level (-1) under the first one's label.
        label = next(lv.label for lv in comparison.levels if lv.gamma == gamma)
        bars.append(WaterfallBar(comparison.name, label, explanation.match_weight, gamma, value_l, value_r, False))
        if any(level.tf_column is not None for level in comparison.levels):
            level = next(lv for lv in comparison.levels if lv.gamma == gamma)
            if level.tf_column is not None:
                label = f"Term freq adjustment on {level.tf_column}"
                value_l, value_r = str(left.get(level.tf_column)), str(right.get(level.tf_column))
            else:
                value_l, value_r = "", ""
            bars.append(
                WaterfallBar(f"tf_{comparison.name}", label, explanation.tf_adjustment, gamma, value_l, value_r, True)
            )
    bars.append(WaterfallBar("Final score", "Final score", scored.match_weight, None, "", "", False))
    return Explanation(bars=tuple(bars), match_weight=scored.match_weight, match_probability=scored.match_probability)
