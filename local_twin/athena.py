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
        locations = list(table.partitions.items()) if table.partition_keys else [((), table.location)]
        for values, location in locations:
            bucket, _, prefix = location.removeprefix("s3://").partition("/")
            files = [
                str(self.s3.path(bucket, o.key))
                for o in self.s3.objects(bucket, prefix)
                if not o.key.rsplit("/", 1)[-1].startswith(("_", "."))
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
                    *(f'NULL AS "{n}"' for n, _ in table.columns),
                    *(f'NULL::VARCHAR AS "{k}"' for k, _ in table.partition_keys),
                ]
            )
            selects = [f"SELECT {empty} WHERE false"]
        connection.execute(
            f'CREATE OR REPLACE VIEW "{table.database}"."{table.name}" AS ' + " UNION ALL ".join(selects)
        )
