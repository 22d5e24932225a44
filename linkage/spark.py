"""Batch linkage on Apache Spark: the same model JSON, predicted and trained with Splink's Spark backend.

The DuckDB path (`linkage.batch`, `linkage.training`) runs on one machine; this one runs wherever Spark
runs: `local[*]` on a laptop or in CI, or a cluster reading Parquet exports (`mpi export parquet`) or a
PostgreSQL replica over JDBC. Both read and write the one model JSON format (DuckDB SQL dialect, as
`linkage.training.save_model` writes it):

- `spark_settings` turns a model JSON into Splink settings for Spark: every comparison's SQL and every
  blocking rule transpiled DuckDB -> Spark SQL with sqlglot; DuckDB's `jaro_winkler_similarity` becomes
  the `jaro_winkler` of Splink's Scala UDF jar (same definition); `levenshtein` is Spark's own;
  `damerau_levenshtein(a, b) <= 1` (and `= 1`, `< 2`, `= 0`) becomes Spark's Levenshtein plus a
  neighbour-swap test (the jar's UDF, kept for other bounds, was the predict's largest single cost).
  Parameters (m, u, prior, term-frequency settings) are copied as is.
- `predict_links_spark` returns the same `PAIR_SCHEMA` table as `linkage.batch.predict_links`
  (parity-tested: same pairs, same weights), or a Spark DataFrame of pairs for cluster-sized outputs.
- `train_model_spark` runs `linkage.training`'s recipe with Spark doing the work and writes the estimated
  parameters back into DuckDB-dialect settings, so the online scorer and both engines read the result.

Nothing is downloaded at run time: the UDF jar ships inside the `splink` wheel (`similarity_jar_location`,
MIT licence) and `local_session` puts it on the session's class path. Never logs a record value.
"""

from __future__ import annotations

import atexit
import copy
import logging
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa
import sqlglot

from linkage.batch import PAIR_SCHEMA, model_input
from linkage.model import MODEL_COLUMNS, build_settings, prediction_blocking_rules
from linkage.scorer import tf_columns
from linkage.training import EM_MAX_ITERATIONS, U_CHUNKS, TrainedModel, estimate_parameters, finish_training

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["local_session", "predict_links_spark", "predict_pairs_spark", "spark_settings", "train_model_spark"]

_SPLINK_LOG_LEVEL: Final = logging.WARNING + 5
_JAVA_OPTIONS: Final = "-XX:-DontCompileHugeMethods"
"""HotSpot never JIT-compiles a method of more than 8,000 bytes of bytecode; Spark's whole-stage code generation
writes larger ones for wide plans such as Splink's predict (Spark warns "too long generated codes" then):
with this flag they are compiled instead of interpreted."""
_FUNCTIONS: Final = {"JAROWINKLER_SIMILARITY": "jaro_winkler", "JARO_WINKLER_SIMILARITY": "jaro_winkler"}
"""DuckDB function names (as sqlglot writes them for Spark) -> the Spark UDF of Splink's jar."""


def local_session(
    *,
    cores: int | str = "*",
    memory: str = "4g",
    shuffle_partitions: int | None = None,
    app_name: str = "mpi-linkage",
    master: str | None = None,
    java_options: str = "",
) -> SparkSession:
    """A Spark session with Splink's UDF jar and a checkpoint directory (what Splink needs).

    Local mode by default: `cores` worker threads (`local[cores]`), `memory` of driver heap (in local mode
    the driver does all the work). `master` (e.g. `spark://host:7077`, `yarn`) connects to a cluster
    instead; its executors get the jar through `spark.jars` too. `shuffle_partitions`: Spark's default of
    200 suits clusters, a local run uses a few per core. `java_options`: more flags for the driver's JVM
    (the tests' short-lived one: `-XX:TieredStopAtLevel=1`). Reuses the active session when there is one
    (its configuration then wins).
    """
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    partitions = shuffle_partitions or (8 if cores == "*" else max(2, 4 * int(cores)))
    spark = (
        SparkSession.builder.master(master or f"local[{cores}]")
        .appName(app_name)
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.memory", memory)
        .config("spark.driver.extraJavaOptions", f"{_JAVA_OPTIONS} {java_options}".strip())
        .config("spark.executor.extraJavaOptions", _JAVA_OPTIONS)
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.default.parallelism", str(partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    if not spark.sparkContext.getCheckpointDir():
        directory = tempfile.mkdtemp(prefix="mpi-spark-checkpoints-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)  # a local directory: this process's own
        spark.sparkContext.setCheckpointDir(directory)
    return spark


class _QuietThreshold(logging.Filter):
    """sqlglot warns on every query that it cannot write Spark's `levenshtein(a, b, threshold)` (it reads the
    threshold as an insertion cost), then writes it unchanged: drop that one warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Argument 'ins_cost' is not supported for expression 'Levenshtein'")


logging.getLogger("sqlglot").addFilter(_QuietThreshold())


def _adjacent_swap(a: str, b: str) -> str:
    """Spark SQL: `b` is `a` with one pair of neighbouring characters swapped (strings of equal length)."""
    swapped = f"CONCAT(SUBSTR({a}, 1, i - 1), SUBSTR({a}, i + 1, 1), SUBSTR({a}, i, 1), SUBSTR({a}, i + 2))"
    return f"(LENGTH({a}) = LENGTH({b}) AND EXISTS(SEQUENCE(1, LENGTH({a}) - 1), i -> {swapped} = {b}))"


def _damerau_at_most_one(a: str, b: str, *, exactly: bool) -> str:
    """Spark SQL for `damerau_levenshtein(a, b) <= 1` (or `= 1`) with Spark's built-in Levenshtein.

    A Damerau-Levenshtein distance of at most 1 is a Levenshtein distance of at most 1, or one transposition
    of neighbours (Levenshtein distance 2, equal lengths). `levenshtein(a, b, 2)` stops at 2 (-1 beyond),
    and the transposition test runs only on the few pairs at distance 2. NULL in, NULL out, as the UDF.
    """
    low = 1 if exactly else 0
    distance = f"LEVENSHTEIN({a}, {b}, 2)"
    return f"({distance} BETWEEN {low} AND 1 OR ({distance} = 2 AND {_adjacent_swap(a, b)}))"


def _native_damerau(node: sqlglot.exp.Expression) -> sqlglot.exp.Expression:
    """`damerau_levenshtein(a, b) <= 1`, `< 2`, `= 1`, `= 0`, `<= 0` rewritten without the UDF.

    Splink's Scala UDF allocates immutable lists per character: on the batch rules it took most of the
    predict's CPU (a thread-dump profile of `bench.bench_spark`). Other distances keep the UDF.
    """
    if not isinstance(node, (sqlglot.exp.LTE, sqlglot.exp.LT, sqlglot.exp.EQ)):
        return node
    call, bound = node.this, node.expression
    name = call.sql_name().upper() if isinstance(call, sqlglot.exp.Func) else ""
    if isinstance(call, sqlglot.exp.Anonymous):
        name = str(call.name).upper()
    if name != "DAMERAU_LEVENSHTEIN" or not isinstance(bound, sqlglot.exp.Literal) or bound.is_string:
        return node
    limit = float(bound.this) - (1 if isinstance(node, sqlglot.exp.LT) else 0)
    if isinstance(call, sqlglot.exp.Anonymous):
        a, b = (arg.sql(dialect="spark") for arg in call.expressions[:2])
    else:
        a, b = call.this.sql(dialect="spark"), call.expression.sql(dialect="spark")
    if isinstance(node, sqlglot.exp.EQ) and limit == 1:
        sql = _damerau_at_most_one(a, b, exactly=True)
    elif limit == 1:
        sql = _damerau_at_most_one(a, b, exactly=False)
    elif limit == 0:
        sql = f"({a} = {b})"
    else:
        return node
    # sqlglot reads Spark's third `levenshtein` argument (the threshold) as an insertion cost it cannot write
    # back for Spark: keep the call as written.
    return sqlglot.parse_one(sql, read="spark").transform(
        lambda n: (
            sqlglot.exp.Anonymous(this="LEVENSHTEIN", expressions=[n.this, n.expression, n.args["ins_cost"]])
            if isinstance(n, sqlglot.exp.Levenshtein) and n.args.get("ins_cost") is not None
            else n
        )
    )


def _to_spark_sql(sql: str) -> str:
    if sql.strip().upper() == "ELSE":
        return sql
    tree = sqlglot.parse_one(sql, read="duckdb").transform(_native_damerau)
    for node in tree.find_all(sqlglot.exp.Func):
        name = node.sql_name().upper()
        if isinstance(node, sqlglot.exp.Anonymous):
            name = str(node.name).upper()
        if name in _FUNCTIONS:
            node.replace(sqlglot.exp.Anonymous(this=_FUNCTIONS[name], expressions=list(node.args.values())[:2]))
    return tree.sql(dialect="spark")


def spark_settings(
    model: Mapping[str, Any], *, blocking_rules: Iterable[tuple[str, ...]] | None = None
) -> dict[str, Any]:
    """Splink settings for the Spark backend from a (DuckDB-dialect) model JSON; parameters unchanged.

    `blocking_rules`: equality rules replacing the model's own prediction rules (as in `predict_links`).
    """
    settings = copy.deepcopy(dict(model))
    settings["sql_dialect"] = "spark"
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            level["sql_condition"] = _to_spark_sql(level["sql_condition"])
    rules = (
        prediction_blocking_rules(blocking_rules)
        if blocking_rules is not None
        else settings.get("blocking_rules_to_generate_predictions", [])
    )
    settings["blocking_rules_to_generate_predictions"] = [
        {**rule, "blocking_rule": _to_spark_sql(rule["blocking_rule"]), "sql_dialect": "spark"} for rule in rules
    ]
    return settings


def _linker(spark: SparkSession, records: pa.Table | DataFrame, settings: dict[str, Any]) -> Any:
    from splink import Linker
    from splink.backends.spark import SparkAPI

    if isinstance(records, pa.Table):
        records = spark.createDataFrame(model_input(records))
    # Splink materialises its intermediate tables (term frequencies, blocked pairs, predictions). An RDD
    # checkpoint computes each one twice (once to count, once to write it); in local mode they are cached
    # in the driver instead (memory, then local disk), on a cluster written once as Parquet into the
    # checkpoint directory (shared storage).
    local = (spark.sparkContext.master or "").startswith("local")
    db_api = SparkAPI(  # type: ignore[no-untyped-call]
        spark_session=spark, break_lineage_method="persist" if local else "parquet"
    )
    # A generated table name: one session serves many runs, and Splink refuses to register a name twice.
    return Linker(db_api.register(records), settings, log_level=_SPLINK_LOG_LEVEL)


def predict_pairs_spark(
    records: pa.Table | DataFrame,
    model: Mapping[str, Any],
    *,
    spark: SparkSession,
    threshold_probability: float,
    blocking_rules: Iterable[tuple[str, ...]] | None = None,
) -> DataFrame:
    """Splink predict on Spark: a DataFrame (unique_id_l < unique_id_r, match_weight, match_probability).

    `records`: model rows with a unique int64 `unique_id`, as an Arrow table or a Spark DataFrame (e.g.
    `spark.read.parquet(...)` of `mpi export parquet`'s source records). Term frequencies are computed
    from the records themselves, as on DuckDB. The result stays in Spark (write it with `.write.parquet`).
    """
    if not 0.0 <= threshold_probability <= 1.0:
        raise ValueError("threshold_probability must be within [0, 1]")
    linker = _linker(spark, records, spark_settings(model, blocking_rules=blocking_rules))
    for column in tf_columns(dict(model)):
        linker.table_management.compute_tf_table(column)
    predicted = linker.inference.predict(threshold_match_probability=threshold_probability)
    return spark.table(predicted.physical_name).selectExpr(
        "LEAST(unique_id_l, unique_id_r) AS unique_id_l",
        "GREATEST(unique_id_l, unique_id_r) AS unique_id_r",
        "match_weight",
        "match_probability",
    )


def predict_links_spark(
    records: pa.Table | DataFrame,
    model: Mapping[str, Any],
    *,
    spark: SparkSession,
    threshold_probability: float,
    blocking_rules: Iterable[tuple[str, ...]] | None = None,
    num_chunks: int | None = None,
) -> pa.Table:
    """`linkage.batch.predict_links` on Spark: the pairs as a `PAIR_SCHEMA` Arrow table sorted by ids.

    `num_chunks` is accepted for call compatibility and ignored: Spark partitions the work itself.
    """
    del num_chunks
    if isinstance(records, pa.Table) and records.num_rows < 2:
        return PAIR_SCHEMA.empty_table()
    pairs = predict_pairs_spark(
        records, model, spark=spark, threshold_probability=threshold_probability, blocking_rules=blocking_rules
    )
    table = pairs.orderBy("unique_id_l", "unique_id_r").toArrow()
    return table.rename_columns(PAIR_SCHEMA.names).cast(PAIR_SCHEMA)


def _duckdb_model_json(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` as Splink's DuckDB backend saves them: the exact form a DuckDB-trained model JSON has."""
    import duckdb
    from splink import DuckDBAPI, Linker

    empty = pa.table({name: pa.array([], type=kind) for name, kind in MODEL_COLUMNS.items()})
    con = duckdb.connect(":memory:")
    try:
        linker = Linker(
            DuckDBAPI(con).register(empty, dataset_display_name="records"), settings, log_level=_SPLINK_LOG_LEVEL
        )
        model: dict[str, Any] = linker.misc.save_model_to_json()
    finally:
        con.close()
    return model


def _parameters_into(skeleton: dict[str, Any], trained: Mapping[str, Any]) -> dict[str, Any]:
    """The estimated prior and m/u of a Spark-trained model, written into the DuckDB-dialect model JSON."""
    out = copy.deepcopy(skeleton)
    out["probability_two_random_records_match"] = trained["probability_two_random_records_match"]
    by_name = {c["output_column_name"]: c for c in trained["comparisons"]}
    for comparison in out["comparisons"]:
        levels = by_name[comparison["output_column_name"]]["comparison_levels"]
        if len(levels) != len(comparison["comparison_levels"]):  # pragma: no cover - same settings both sides
            raise ValueError(f"comparison {comparison['output_column_name']}: levels differ between dialects")
        for mine, theirs in zip(comparison["comparison_levels"], levels, strict=True):
            for key in ("m_probability", "u_probability"):
                if key in theirs:
                    mine[key] = theirs[key]
                else:
                    mine.pop(key, None)
    return out


def train_model_spark(
    records: pa.Table | DataFrame,
    *,
    spark: SparkSession,
    seed: int,
    max_pairs: float = 2e6,
    u_max_pairs: float = 5e6,
    u_chunks: int = U_CHUNKS,
    em_max_iterations: int = EM_MAX_ITERATIONS,
    recall: float = 0.7,
    m_floor: float = 1e-3,
    data_description: str = "",
) -> TrainedModel:
    """`linkage.training.train_model` with Spark doing the work; the model JSON is in the DuckDB dialect.

    Same recipe and post-processing (unobserved levels, m floor, provenance with `"engine": "spark"`).
    Spark's random sampling differs from DuckDB's, so the same seed gives a close, not identical, model.
    `u_chunks=1` suits small data on Spark (see `linkage.training.estimate_parameters`); `em_max_iterations` as
    in `train_model`.
    """
    settings = build_settings()
    settings["max_iterations"] = em_max_iterations
    linker = _linker(spark, records, spark_settings(settings))
    estimate_parameters(
        linker, seed=seed, max_pairs=max_pairs, u_max_pairs=u_max_pairs, u_chunks=u_chunks, recall=recall, quote="`"
    )
    trained: dict[str, Any] = linker.misc.save_model_to_json()
    model = _parameters_into(_duckdb_model_json(settings), trained)
    rows = records.num_rows if isinstance(records, pa.Table) else records.count()
    return finish_training(
        model,
        training_records=rows,
        seed=seed,
        max_pairs=max_pairs,
        u_max_pairs=u_max_pairs,
        u_chunks=u_chunks,
        recall=recall,
        m_floor=m_floor,
        data_description=data_description,
        engine=f"spark {spark.version}",
    )
