"""Athena: the synthesized named queries, run with DuckDB over the zones through the twin's catalog.

A query sees what Athena would: the catalog's tables, and for a partitioned table only its registered
partitions (Athena reads partitions from the Data Catalog unless the table uses partition projection),
with partition values typed as the catalog types them. The query text is Athena's (Trino) SQL, translated
to DuckDB by sqlglot, plus one rule sqlglot does not apply: in Trino ``date ± interval`` of days, weeks,
months or years is a ``date`` (in DuckDB a timestamp, which would compare differently as text). Sessions
run in UTC, as Athena's do. A table format the twin does not read (anything but Parquet) is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from local_twin.assembly import CloudAssembly
from local_twin.glue import Glue, Table
from local_twin.s3 import S3

_DATE_UNITS = {"DAY", "WEEK", "MONTH", "YEAR"}


class QueryError(Exception):
    pass


@dataclass(frozen=True)
class NamedQuery:
    name: str
    database: str
    query: str
    workgroups: tuple[str, ...]


@dataclass
class QueryResult:
    query: NamedQuery
    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str


def _sqlglot_type(hive_type: str) -> str:
    kind = hive_type.lower()
    if kind.startswith(("map<", "array<", "struct<")):
        return "VARCHAR"  # not compared by the platform's queries
    return {"string": "VARCHAR", "bigint": "BIGINT", "int": "INT", "double": "DOUBLE"}.get(kind, kind.upper())


def duckdb_type(hive_type: str) -> str:
    """The DuckDB type of a catalog (Hive) column type."""
    kind = hive_type.lower()
    types = {
        "string": "VARCHAR",
        "date": "DATE",
        "int": "INTEGER",
        "bigint": "BIGINT",
        "smallint": "SMALLINT",
        "double": "DOUBLE",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMPTZ",
    }
    if kind in types:
        return types[kind]
    if kind.startswith("decimal"):
        return kind.upper()
    if kind.startswith("map<"):
        key, value = kind[4:-1].split(",", 1)
        return f"MAP({duckdb_type(key)}, {duckdb_type(value)})"
    raise QueryError(f"catalog type {hive_type} is not supported by the twin's Athena")


def _projected_partitions(table: Table) -> list[tuple[tuple[str, ...], str]]:
    """Athena partition projection: every value of each key (dates from the range's start to today,
    UTC, by day; enums; integer ranges), at ``<location><key>=<value>/`` or the table's
    ``storage.location.template``. Injected keys take their values from the query: not run by the twin."""
    import itertools  # noqa: PLC0415
    from datetime import UTC, date, datetime, timedelta  # noqa: PLC0415

    parameters = table.parameters
    choices: list[list[str]] = []
    for key, _ in table.partition_keys:
        kind = parameters.get(f"projection.{key}.type")
        if kind == "date":
            low, high = parameters[f"projection.{key}.range"].split(",")
            if (
                parameters.get(f"projection.{key}.format") != "yyyy-MM-dd"
                or parameters.get(f"projection.{key}.interval", "1") != "1"
            ):
                raise QueryError(f"{table.name}: only daily yyyy-MM-dd date projection is run by the twin")
            today = datetime.now(UTC).date()
            first = today if low.strip() == "NOW" else date.fromisoformat(low.strip())
            last = today if high.strip() == "NOW" else date.fromisoformat(high.strip())
            choices.append([(first + timedelta(days=d)).isoformat() for d in range((last - first).days + 1)])
        elif kind == "enum":
            choices.append(parameters[f"projection.{key}.values"].split(","))
        elif kind == "integer":
            start, stop = (int(x) for x in parameters[f"projection.{key}.range"].split(","))
            choices.append([str(v) for v in range(start, stop + 1)])
        else:
            raise QueryError(f"{table.name}: projection type {kind!r} of {key} is not run by the twin")
    keys = [key for key, _ in table.partition_keys]
    template = parameters.get("storage.location.template")
    located = []
    for values in itertools.product(*choices):
        if template:
            location = template
            for key, value in zip(keys, values, strict=True):
                location = location.replace("${" + key + "}", value)
        else:
            location = (
                table.location.rstrip("/")
                + "/"
                + "".join(f"{k}={v}/" for k, v in zip(keys, values, strict=True))
            )
        located.append((tuple(values), location))
    return located


def _is_date(node: exp.Expression) -> bool:
    if isinstance(node, exp.CurrentDate | exp.Date | exp.DateStrToDate):
        return True
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DATE:
        return True
    return isinstance(node, exp.Paren) and _is_date(node.this)


def _trino_date_arithmetic(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Add | exp.Sub):
        left, right = node.this, node.expression
        interval = (
            right if isinstance(right, exp.Interval) else left if isinstance(left, exp.Interval) else None
        )
        other = left if interval is right else right
        unit = interval.unit if interval is not None else None
        if unit is not None and _is_date(other) and str(unit.this).upper() in _DATE_UNITS:
            return exp.Cast(this=node.copy(), to=exp.DataType.build("DATE"))
    return node


def translate(query: str) -> str:
    """Athena (Trino) SQL -> DuckDB SQL."""
    tree = sqlglot.parse_one(query, read="trino")
    tree = tree.transform(_trino_date_arithmetic)
    return tree.sql(dialect="duckdb")


@dataclass
class Athena:
    assembly: CloudAssembly
    glue: Glue
    s3: S3
    results: list[QueryResult] = field(default_factory=list)

    def named_queries(self) -> list[NamedQuery]:
        """Each distinct saved query once, with the workgroups that hold it."""
        found: dict[tuple[str, str, str], list[str]] = {}
        for resource in self.assembly.resources("AWS::Athena::NamedQuery"):
            props = resource.properties
            key = (str(props["Name"]), str(props["Database"]), str(props["QueryString"]))
            found.setdefault(key, []).append(str(props.get("WorkGroup", "primary")))
        return [NamedQuery(n, d, q, tuple(sorted(w))) for (n, d, q), w in sorted(found.items())]

    def run_named_queries(self) -> list[QueryResult]:
        self.results = [self.run(query) for query in self.named_queries()]
        return self.results

    def run(self, query: NamedQuery) -> QueryResult:
        self._check_types(query)
        sql = translate(query.query)
        connection = duckdb.connect()
        try:
            connection.execute("SET TimeZone = 'UTC'")
            for table in self._tables(query):
                self._register(connection, table)
            cursor = connection.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            return QueryResult(query, columns, cursor.fetchall(), sql)
        except duckdb.Error as error:
            raise QueryError(f"named query {query.name}: {error}\nDuckDB SQL: {sql}") from error
        finally:
            connection.close()

    def _check_types(self, query: NamedQuery) -> None:
        """Comparisons Trino rejects though DuckDB would cast silently: a date, timestamp or number
        against text ("Cannot apply operator")."""
        databases: dict[str, dict[str, dict[str, str]]] = {}
        for table in self._tables(query):
            columns = {name: _sqlglot_type(kind) for name, kind in (*table.columns, *table.partition_keys)}
            databases.setdefault(table.database, {})[table.name] = columns
        schema: dict[str, object] = dict(databases)
        tree = qualify(
            sqlglot.parse_one(query.query, read="trino"), schema=schema, dialect="trino", db=query.database
        )
        tree = annotate_types(tree, schema=schema, dialect="trino")
        text = {exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR}
        typed = {
            exp.DataType.Type.DATE,
            exp.DataType.Type.TIMESTAMP,
            exp.DataType.Type.BIGINT,
            exp.DataType.Type.INT,
        }
        for node in tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE):
            kinds = {
                node.this.type.this if node.this.type else None,
                node.expression.type.this if node.expression.type else None,
            }
            if kinds & text and kinds & typed:
                raise QueryError(
                    f"named query {query.name}: Athena (Trino) cannot compare {node.this.type} with "
                    f"{node.expression.type} without a cast: {node.sql(dialect='trino')}"
                )

    def _tables(self, query: NamedQuery) -> list[Table]:
        tables = []
        for reference in sqlglot.parse_one(query.query, read="trino").find_all(exp.Table):
            database = reference.db or query.database
            table = self.glue.catalog.table(database, reference.name)
            if table is None:
                raise QueryError(
                    f"named query {query.name}: table {database}.{reference.name} does not exist in the "
                    "catalog"
                )
            tables.append(table)
        return tables

    def _register(self, connection: duckdb.DuckDBPyConnection, table: Table) -> None:
        if table.classification != "parquet":
            raise QueryError(
                f"table {table.database}.{table.name} is {table.classification}; the twin's Athena reads "
                "Parquet"
            )
        columns = ", ".join(f'"{name}"' for name, _ in table.columns)
        selects = []
        bucket, _, root = table.location.removeprefix("s3://").partition("/")
        files_by_folder: dict[str, list[str]] = {}
        for obj in self.s3.objects(bucket, root):
            folder, _, name = obj.key.rpartition("/")
            if not name.startswith(("_", ".")):
                files_by_folder.setdefault(f"s3://{bucket}/{folder}/", []).append(
                    str(self.s3.path(bucket, obj.key))
                )
        if table.projected:  # Athena builds the partitions from the table's settings, ignoring the catalog's
            locations = _projected_partitions(table)
        else:
            locations = list(table.partitions.items()) if table.partition_keys else [((), table.location)]
        for values, location in locations:
            files = files_by_folder.get(location.rstrip("/") + "/", [])
            if not table.partition_keys:
                files = [
                    f
                    for folder, found in files_by_folder.items()
                    if folder.startswith(location)
                    for f in found
                ]
            if not files:
                continue
            partition_values = "".join(
                f", CAST('{value}' AS {duckdb_type(kind)}) AS \"{key}\""
                for (key, kind), value in zip(table.partition_keys, values, strict=True)
            )
            selects.append(
                f"SELECT {columns}{partition_values} FROM read_parquet({files!r}, hive_partitioning = false)"
            )
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.database}"')
        if not selects:
            empty = ", ".join(
                [
                    *(f'NULL::{duckdb_type(t)} AS "{n}"' for n, t in table.columns),
                    *(f'NULL::{duckdb_type(t)} AS "{k}"' for k, t in table.partition_keys),
                ]
            )
            selects = [f"SELECT {empty} WHERE false"]
        connection.execute(
            f'CREATE OR REPLACE VIEW "{table.database}"."{table.name}" AS ' + " UNION ALL ".join(selects)
        )
