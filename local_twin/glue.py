"""AWS Glue: the Data Catalog, crawlers, job runs on local PySpark, and Data Quality evaluations.

* **Catalog.** Databases from the templates; tables and partitions as crawlers (or jobs, through the
  API) create them.
* **Crawlers.** An S3 target's objects (minus ``Exclusions``: globs relative to the include path, ``*``
  within a folder, ``**`` across folders) become one table named after the include path's folder, with
  a partition key per ``key=value`` folder level (typed ``string``) and a partition per folder; columns
  come from the Parquet schema or, for JSON, from the values
  (https://docs.aws.amazon.com/glue/latest/dg/crawler-s3-folder-table-partition.html). ``SchemaChangePolicy``
  ``UPDATE_IN_DATABASE`` updates a changed table; partitions are added, never deleted (``LOG``). The
  crawler's role is checked for listing and reading the objects (and their keys) and for writing the
  catalog (``glue:GetDatabase``, ``GetTable``, ``CreateTable``/``UpdateTable``, ``GetPartitions``,
  ``BatchCreatePartition``: the calls the twin makes; AWS documents no minimal list).
* **Jobs.** ``StartJobRun`` runs the job's script asset as Glue would: ``--JOB_NAME``, ``--JOB_ID``,
  ``--JOB_RUN_ID`` and the job's ``DefaultArguments`` overridden key by key by the run's ``Arguments``,
  on the shared local Spark session, ``s3://`` served by the twin's Hadoop file system, the Glue runtime
  of ``glue_runtime``. Every S3 request the run made is then checked for the job's role (objects it writes
  are encrypted with the security configuration's S3 key, if any), as are the script download, the
  bookmark key and the job's logs. A run that raises, or needed something its role may not do, FAILS;
  Glue's "Glue Job State Change" event goes to EventBridge. ``MaxConcurrentRuns`` is enforced.
* **Data Quality.** ``StartDataQualityRulesetEvaluationRun`` evaluates the ruleset's DQDL on the table's
  data (its partitions' objects) as the run's role, which the caller must be allowed to pass.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import re
import runpy
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from local_twin import glue_data_quality as dqdl
from local_twin import glue_runtime, sdk
from local_twin import spark as twin_spark
from local_twin.assembly import CloudAssembly, Resource
from local_twin.events import EventBridge
from local_twin.iam import AccessDenied, PolicyEngine
from local_twin.models import ServiceApi
from local_twin.s3 import S3
from local_twin.stepfunctions import ServiceError, StepFunctions, TaskContext, TaskFailed

LOG = logging.getLogger("local_twin.glue")
_PARTITION = re.compile(r"^([^=/]+)=([^/]*)$")


# --- catalog ------------------------------------------------------------------------------------------


@dataclass
class Table:
    database: str
    name: str
    location: str
    columns: list[tuple[str, str]]
    partition_keys: list[tuple[str, str]]
    classification: str
    partitions: dict[tuple[str, ...], str] = field(default_factory=dict)  # values -> location
    updated: int = 0
    parameters: dict[str, str] = field(default_factory=dict)
    storage_descriptor: dict[str, Any] | None = None  # as the template defines it
    registrations: int = 0  # partitions added through BatchCreatePartition

    def api(self) -> dict[str, Any]:
        """The table in GetTable's shape."""
        descriptor = self.storage_descriptor or {
            "Columns": [{"Name": n, "Type": t} for n, t in self.columns],
            "Location": self.location,
        }
        return {
            "Name": self.name,
            "DatabaseName": self.database,
            "StorageDescriptor": descriptor,
            "PartitionKeys": [{"Name": n, "Type": t} for n, t in self.partition_keys],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": self.classification, **self.parameters},
        }

    @property
    def projected(self) -> bool:
        """Athena partition projection is on: Athena builds the partitions from the table's settings."""
        return self.parameters.get("projection.enabled", "").lower() == "true"


def _table_of(resource: Resource) -> Table:
    """A table the template defines (``AWS::Glue::Table``)."""
    props = resource.properties
    table_input = props["TableInput"]
    descriptor = dict(table_input.get("StorageDescriptor", {}))
    parameters = {
        k: (str(v).lower() if isinstance(v, bool) else str(v))
        for k, v in table_input.get("Parameters", {}).items()
    }
    serde = str(descriptor.get("SerdeInfo", {}).get("SerializationLibrary", "")).lower()
    classification = parameters.get("classification") or ("parquet" if "parquet" in serde else "json")
    return Table(
        database=str(props["DatabaseName"]),
        name=str(table_input["Name"]),
        location=str(descriptor.get("Location", "")),
        columns=[(c["Name"], c["Type"]) for c in descriptor.get("Columns", [])],
        partition_keys=[(k["Name"], k["Type"]) for k in table_input.get("PartitionKeys", [])],
        classification=classification,
        parameters=parameters,
        storage_descriptor=descriptor,
    )


@dataclass
class Catalog:
    databases: dict[str, dict[str, Table]] = field(default_factory=dict)

    def table(self, database: str, name: str) -> Table | None:
        return self.databases.get(database, {}).get(name)


def _hive_type(duckdb_type: str) -> str:
    t = duckdb_type.strip()
    upper = t.upper()
    simple = {
        "VARCHAR": "string",
        "BIGINT": "bigint",
        "INTEGER": "int",
        "SMALLINT": "smallint",
        "TINYINT": "tinyint",
        "DOUBLE": "double",
        "FLOAT": "float",
        "BOOLEAN": "boolean",
        "DATE": "date",
        "TIMESTAMP": "timestamp",
        "TIMESTAMP WITH TIME ZONE": "timestamp",
        "TIMESTAMP_NS": "timestamp",
        "BLOB": "binary",
    }
    if upper in simple:
        return simple[upper]
    if upper.startswith("DECIMAL"):
        return t.lower()
    if upper.endswith("[]"):
        return f"array<{_hive_type(t[:-2])}>"
    if upper.startswith("MAP("):
        key, value = _split_top(t[4:-1])
        return f"map<{_hive_type(key)},{_hive_type(value)}>"
    if upper.startswith("STRUCT("):
        fields = []
        for part in _split_top(t[7:-1]):
            name, _, kind = part.strip().partition(" ")
            fields.append(f"{name.strip(chr(34))}:{_hive_type(kind)}")
        return f"struct<{','.join(fields)}>"
    raise ValueError(f"Parquet type {duckdb_type} has no catalog type in the twin")


def _split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()] if current.strip() else parts


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "struct<" + ",".join(f"{k}:{_json_type(v)}" for k, v in value.items()) + ">"
    if isinstance(value, list):
        return f"array<{_json_type(value[0]) if value else 'string'}>"
    return "string"


def _merge_type(a: str | None, b: str) -> str:
    if a is None or a == b:
        return b
    if {a, b} == {"bigint", "double"}:
        return "double"
    return "string"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A crawler exclusion glob: ``**`` crosses folders, ``*`` and ``?`` do not, ``{a,b}``, ``[..]``."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "{":
            end = pattern.index("}", i)
            out += "(" + "|".join(re.escape(p) for p in pattern[i + 1 : end].split(",")) + ")"
            i = end
        elif c == "[":
            end = pattern.index("]", i)
            body = pattern[i + 1 : end]
            out += "[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]"
            i = end
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out)


# --- job runs -----------------------------------------------------------------------------------------


@dataclass
class JobRun:
    id: str
    job: str
    arguments: dict[str, str]
    started: datetime
    state: str = "RUNNING"
    completed: datetime | None = None
    error: str | None = None
    seconds: float = 0.0
    summaries: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    s3_requests: int = 0

    def api(self, job: Job) -> dict[str, Any]:
        """The run in GetJobRun's ``JobRun`` shape."""
        shaped: dict[str, Any] = {
            "Id": self.id,
            "Attempt": 0,
            "JobName": self.job,
            "JobMode": "SCRIPT",
            "StartedOn": self.started,
            "LastModifiedOn": self.completed or self.started,
            "JobRunState": self.state,
            "Arguments": self.arguments,
            "ExecutionTime": max(1, round(self.seconds)),
            "Timeout": job.timeout,
            "WorkerType": job.worker_type,
            "NumberOfWorkers": job.workers,
            "GlueVersion": job.glue_version,
            "LogGroupName": "/aws-glue/jobs",
        }
        if self.completed:
            shaped["CompletedOn"] = self.completed
        if self.error:
            shaped["ErrorMessage"] = self.error
        if job.security_configuration:
            shaped["SecurityConfiguration"] = job.security_configuration
        return shaped


@dataclass
class Job:
    resource: Resource
    name: str
    role: str
    script: Path
    script_location: str
    default_arguments: dict[str, str]
    max_concurrent: int
    timeout: int
    worker_type: str
    workers: int
    glue_version: str
    security_configuration: str | None
    runs: list[JobRun] = field(default_factory=list)


@dataclass
class _RunHooks:
    """What glue_runtime asks the twin while a script runs: listings, bookmarks."""

    glue: Glue
    job: Job
    run: JobRun
    bookmark_option: str
    staged: dict[str, dict[str, int]] = field(default_factory=dict)
    committed: bool = False

    @property
    def job_name(self) -> str:
        return self.job.name

    def list_files(self, paths: list[str], recurse: bool) -> list[tuple[str, int]]:
        jvm, conf = twin_spark.jvm(twin_spark.session())
        found = []
        for path in paths:
            hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
            fs = hadoop_path.getFileSystem(conf)
            if not fs.exists(hadoop_path):
                continue
            iterator = fs.listFiles(hadoop_path, recurse)
            while iterator.hasNext():
                status = iterator.next()
                name = status.getPath().getName()
                if not name.startswith(("_", ".")):
                    found.append((str(status.getPath().toString()), int(status.getModificationTime())))
        return found

    def bookmark(self, context: str) -> dict[str, int]:
        return dict(self.glue.bookmarks.get(self.job.name, {}).get(context, {}))

    def stage_bookmark(self, context: str, files: dict[str, int]) -> None:
        self.staged.setdefault(context, {}).update(files)

    def commit(self) -> None:
        self.committed = True


# --- the service ----------------------------------------------------------------------------------------


@dataclass
class Crawler:
    resource: Resource
    name: str
    role: str
    database: str
    targets: list[dict[str, Any]]
    update_behavior: str
    security_configuration: str | None
    state: str = "READY"
    last_crawl: dict[str, Any] | None = None
    crawls: int = 0


@dataclass
class DataQualityRun:
    id: str
    ruleset: str
    database: str
    table: str
    role: str
    started: datetime
    status: str = "RUNNING"
    completed: datetime | None = None
    error: str | None = None
    result_id: str | None = None
    predicate: str | None = None  # pushDownPredicate: the partitions evaluated
    partitions_evaluated: int | None = None


class Glue:
    def __init__(
        self,
        assembly: CloudAssembly,
        iam: PolicyEngine,
        s3: S3,
        events: EventBridge,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.assembly = assembly
        self.iam = iam
        self.s3 = s3
        self.events = events
        self.clock = clock or (lambda: datetime.now(UTC))
        self.catalog = Catalog({r.name: {} for r in assembly.resources("AWS::Glue::Database")})
        for resource in assembly.resources("AWS::Glue::Table"):
            table = _table_of(resource)
            self.catalog.databases.setdefault(table.database, {})[table.name] = table
        self.bookmarks: dict[str, dict[str, dict[str, int]]] = {}
        self.security_configurations = {
            r.name: r.properties.get("EncryptionConfiguration", {})
            for r in assembly.resources("AWS::Glue::SecurityConfiguration")
        }
        self.crawlers = {r.name: self._crawler(r) for r in assembly.resources("AWS::Glue::Crawler")}
        self.jobs = {r.name: self._job(r) for r in assembly.resources("AWS::Glue::Job")}
        self.rulesets = {r.name: r.properties for r in assembly.resources("AWS::Glue::DataQualityRuleset")}
        self.dq_runs: dict[str, DataQualityRun] = {}
        self.dq_results: dict[str, dict[str, Any]] = {}
        self.hooks: list[Callable[[Job, JobRun], None]] = []  # called as a run starts (scenarios)
        self.last_partitions_read = 0

    def _crawler(self, resource: Resource) -> Crawler:
        props = resource.properties
        return Crawler(
            resource=resource,
            name=resource.name,
            role=self._role_arn(str(props["Role"])),
            database=str(props["DatabaseName"]),
            targets=list(props.get("Targets", {}).get("S3Targets", [])),
            update_behavior=props.get("SchemaChangePolicy", {}).get("UpdateBehavior", "UPDATE_IN_DATABASE"),
            security_configuration=props.get("CrawlerSecurityConfiguration"),
        )

    def _job(self, resource: Resource) -> Job:
        props = resource.properties
        location = str(props["Command"]["ScriptLocation"])
        return Job(
            resource=resource,
            name=resource.name,
            role=self._role_arn(str(props["Role"])),
            script=self.assembly.asset(location.rsplit("/", 1)[1]),
            script_location=location,
            default_arguments={k: str(v) for k, v in props.get("DefaultArguments", {}).items()},
            max_concurrent=int(props.get("ExecutionProperty", {}).get("MaxConcurrentRuns", 1)),
            timeout=int(props.get("Timeout", 2880)),
            worker_type=str(props.get("WorkerType", "G.1X")),
            workers=int(props.get("NumberOfWorkers", 2)),
            glue_version=str(props.get("GlueVersion", "5.0")),
            security_configuration=props.get("SecurityConfiguration"),
        )

    def _role_arn(self, role: str) -> str:
        return role if role.startswith("arn:") else self.assembly.env.arn("iam", f"role/{role}", region=False)

    def register(self, sfn: StepFunctions) -> None:
        """Answers the Glue Tasks of the state machines."""
        sfn.handlers.update(
            {
                ("glue", "startCrawler"): self._start_crawler,
                ("glue", "getCrawler"): self._get_crawler,
                ("glue", "startJobRun.sync"): self._start_job_run_sync,
                ("glue", "startDataQualityRulesetEvaluationRun"): self._start_dq_run,
                ("glue", "getDataQualityRulesetEvaluationRun"): self._get_dq_run,
                ("glue", "getDataQualityResult"): self._get_dq_result,
            }
        )

    # --- ARNs ---

    def _arn(self, resource: str) -> str:
        return self.assembly.env.arn("glue", resource)

    def _catalog_arns(self, database: str, table: str | None = None) -> list[str]:
        arns = [self._arn("catalog"), self._arn(f"database/{database}")]
        if table is not None:
            arns.append(self._arn(f"table/{database}/{table}"))
        return arns

    def _require_catalog(
        self, role: str, action: str, database: str, table: str | None, purpose: str
    ) -> None:
        for arn in self._catalog_arns(database, table):
            self.iam.require(role, action, arn, purpose=purpose)

    def _s3_key(self, security_configuration: str | None) -> str | None:
        """The KMS key objects a job writes are encrypted with (security configuration SSE-KMS)."""
        config = self.security_configurations.get(security_configuration or "", {})
        for entry in config.get("S3Encryptions", []):
            if entry.get("S3EncryptionMode") == "SSE-KMS":
                return str(entry["KmsKeyArn"])
        return None

    def _logs(self, role: str, group: str, security_configuration: str | None, purpose: str) -> None:
        env = self.assembly.env
        group_arn = env.arn("logs", f"log-group:{group}")
        for action in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"):
            self.iam.require(
                role,
                action,
                f"{group_arn}:*" if action != "logs:CreateLogGroup" else group_arn,
                purpose=purpose,
            )
        config = self.security_configurations.get(security_configuration or "", {})
        cloudwatch = config.get("CloudWatchEncryption", {})
        if cloudwatch.get("CloudWatchEncryptionMode") == "SSE-KMS":
            key = str(cloudwatch["KmsKeyArn"])
            self.iam.require(role, "logs:AssociateKmsKey", group_arn, purpose=f"{purpose} (encrypted logs)")
            logs_service = f"logs.{env.region}.{env.url_suffix}"
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                self.iam.require(
                    logs_service,
                    action,
                    key,
                    context={"kms:EncryptionContext:aws:logs:arn": group_arn},
                    purpose=f"{purpose} (CloudWatch Logs encrypting)",
                )

    # --- crawlers ---

    def _start_crawler(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["Name"])
        self.iam.require(ctx.role, "glue:StartCrawler", self._arn(f"crawler/{name}"), purpose=ctx.purpose)
        crawler = self.crawlers.get(name)
        if crawler is None:
            raise ServiceError("EntityNotFoundException", f"Crawler with name {name} not found")
        if crawler.state != "READY":
            raise ServiceError("CrawlerRunningException", f"Crawler with name {name} has already started")
        self.crawl(crawler)
        return {}

    def _get_crawler(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["Name"])
        self.iam.require(ctx.role, "glue:GetCrawler", self._arn(f"crawler/{name}"), purpose=ctx.purpose)
        crawler = self.crawlers.get(name)
        if crawler is None:
            raise ServiceError("EntityNotFoundException", f"Crawler with name {name} not found")
        described: dict[str, Any] = {
            "Name": crawler.name,
            "Role": crawler.role,
            "DatabaseName": crawler.database,
            "Targets": {"S3Targets": crawler.targets},
            "State": crawler.state,
            "Version": 1,
        }
        if crawler.last_crawl is not None:
            described["LastCrawl"] = crawler.last_crawl
        return {"Crawler": described}

    def crawl(self, crawler: Crawler) -> None:
        """One crawl, synchronously: READY -> (crawl) -> READY with LastCrawl set."""
        started = self.clock()
        purpose = f"crawler {crawler.name}"
        self._glue_event(
            "Glue Crawler State Change",
            {"crawlerName": crawler.name, "state": "Started", "message": "Crawler Started"},
        )
        crawler.state = "RUNNING"
        created = partitions = 0
        try:
            self.iam.assume(crawler.role, "glue.amazonaws.com", purpose=purpose)
            self._logs(crawler.role, "/aws-glue/crawlers", crawler.security_configuration, purpose)
            self._require_catalog(crawler.role, "glue:GetDatabase", crawler.database, None, purpose)
            if crawler.database not in self.catalog.databases:
                raise ServiceError("EntityNotFoundException", f"Database {crawler.database} not found")
            for target in crawler.targets:
                made, added = self._crawl_target(crawler, target, purpose)
                created += made
                partitions += added
            crawler.last_crawl = {
                "Status": "SUCCEEDED",
                "StartTime": started,
                "LogGroup": "/aws-glue/crawlers",
                "LogStream": crawler.name,
                "MessagePrefix": str(uuid.uuid4()),
            }
            self._glue_event(
                "Glue Crawler State Change",
                {
                    "crawlerName": crawler.name,
                    "state": "Succeeded",
                    "message": "Crawler Succeeded",
                    "tablesCreated": str(created),
                    "partitionsCreated": str(partitions),
                },
            )
        except (AccessDenied, ServiceError, ValueError) as error:
            crawler.last_crawl = {
                "Status": "FAILED",
                "StartTime": started,
                "ErrorMessage": str(error)[:2048],
                "MessagePrefix": str(uuid.uuid4()),
            }
            self._glue_event(
                "Glue Crawler State Change",
                {
                    "crawlerName": crawler.name,
                    "state": "Failed",
                    "message": "Crawler Failed",
                    "errorMessage": str(error)[:2048],
                },
            )
            if isinstance(error, AccessDenied):
                LOG.warning("crawler %s: %s", crawler.name, error)
        finally:
            crawler.state = "READY"
            crawler.crawls += 1

    def _crawl_target(self, crawler: Crawler, target: Mapping[str, Any], purpose: str) -> tuple[int, int]:
        path = str(target["Path"])
        bucket, _, prefix = path.removeprefix("s3://").partition("/")
        prefix = prefix if prefix.endswith("/") or not prefix else prefix + "/"
        exclusions = [glob_regex(p) for p in target.get("Exclusions", [])]
        objects = [
            o
            for o in self.s3.list_objects(crawler.role, bucket, prefix, purpose=purpose)
            if not any(r.fullmatch(o.key[len(prefix) :]) for r in exclusions)
        ]
        if not objects:
            return 0, 0
        table_name = re.sub(
            r"[^a-z0-9_]", "_", prefix.rstrip("/").rsplit("/", 1)[-1].lower()
        ) or bucket.replace("-", "_")
        layouts: dict[tuple[str, ...], dict[tuple[str, ...], list[str]]] = {}
        for obj in objects:
            folders = obj.key[len(prefix) :].split("/")[:-1]
            keys, values = [], []
            for folder in folders:
                match = _PARTITION.match(folder)
                if not match:
                    raise ValueError(
                        f"{path}: folder {folder!r} is not a key=value partition; the twin crawls "
                        "Hive-style layouts only"
                    )
                keys.append(match.group(1))
                values.append(match.group(2))
            layouts.setdefault(tuple(keys), {}).setdefault(tuple(values), []).append(obj.key)
        if len(layouts) != 1:
            raise ValueError(
                f"{path}: objects at different partition depths {sorted(layouts)}: the twin does not crawl "
                "mixed layouts"
            )
        ((found_keys, partitions),) = layouts.items()
        keys = list(found_keys)
        columns, classification = self._schema(
            crawler, bucket, [files[0] for files in partitions.values()], purpose
        )
        table = self.catalog.table(crawler.database, table_name)
        self._require_catalog(crawler.role, "glue:GetTable", crawler.database, table_name, purpose)
        created = 0
        if table is None:
            self._require_catalog(crawler.role, "glue:CreateTable", crawler.database, table_name, purpose)
            table = Table(
                crawler.database, table_name, path, columns, [(k, "string") for k in keys], classification
            )
            self.catalog.databases[crawler.database][table_name] = table
            created = 1
        elif crawler.update_behavior == "UPDATE_IN_DATABASE" and (
            table.columns != columns or [k for k, _ in table.partition_keys] != list(keys)
        ):
            self._require_catalog(crawler.role, "glue:UpdateTable", crawler.database, table_name, purpose)
            table.columns, table.partition_keys, table.classification = (
                columns,
                [(k, "string") for k in keys],
                classification,
            )
            table.updated += 1
        self._require_catalog(crawler.role, "glue:GetPartitions", crawler.database, table_name, purpose)
        new = {
            values: f"s3://{bucket}/{prefix}"
            + "".join(f"{k}={v}/" for k, v in zip(keys, values, strict=True))
            for values in partitions
            if values and values not in table.partitions
        }
        if new:
            self._require_catalog(
                crawler.role, "glue:BatchCreatePartition", crawler.database, table_name, purpose
            )
            table.partitions.update(new)
        return created, len(new)

    def _schema(
        self, crawler: Crawler, bucket: str, keys: list[str], purpose: str
    ) -> tuple[list[tuple[str, str]], str]:
        for key in keys:
            self.s3.authorize(crawler.role, "GetObject", bucket, key, purpose=purpose)
        paths = [str(self.s3.path(bucket, key)) for key in keys]
        if all(p.endswith(".parquet") for p in paths):
            described = duckdb.execute(
                f"DESCRIBE SELECT * FROM read_parquet({paths!r}, union_by_name=true, hive_partitioning=false)"
            ).fetchall()
            return [(name, _hive_type(kind)) for name, kind, *_ in described], "parquet"
        types: dict[str, str] = {}
        for path in paths:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as handle:
                for count, line in enumerate(handle):
                    if count >= 1000:
                        break
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(value, dict):
                        for name, item in value.items():
                            types[name] = _merge_type(types.get(name), _json_type(item))
        if not types:
            raise ValueError(
                f"s3://{bucket}: no JSON object or Parquet file the twin's classifiers recognise"
            )
        return sorted(types.items()), "json"

    # --- jobs ---

    def _start_job_run_sync(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["JobName"])
        job_arn = self._arn(f"job/{name}")
        for action in ("glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns"):
            self.iam.require(ctx.role, action, job_arn, purpose=ctx.purpose)
        run = self.start_job_run(name, dict(params.get("Arguments", {})))
        job = self.jobs[name]
        shaped: dict[str, Any] = ctx.integration.api.shape("GetJobRun", {"JobRun": run.api(job)})["JobRun"]
        if run.state != "SUCCEEDED":
            # .sync: a run that ends other than SUCCEEDED fails the Task with the JobRun as its cause.
            raise TaskFailed("States.TaskFailed", json.dumps(shaped))
        return shaped

    def start_job_run(self, name: str, arguments: Mapping[str, str] | None = None) -> JobRun:
        job = self.jobs.get(name)
        if job is None:
            raise ServiceError("EntityNotFoundException", f"Job {name} not found")
        if sum(r.state == "RUNNING" for r in job.runs) >= job.max_concurrent:
            raise ServiceError("ConcurrentRunsExceededException", f"Concurrent runs exceeded for {name}")
        run_id = "jr_" + hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        merged = {**job.default_arguments, **dict(arguments or {})}
        run = JobRun(run_id, name, merged, self.clock())
        job.runs.append(run)
        for hook in list(self.hooks):
            hook(job, run)
        started = time.monotonic()
        try:
            self._execute(job, run)
            run.state = "SUCCEEDED"
        except AccessDenied as denied:
            run.state, run.error = "FAILED", f"AccessDenied: {denied.decision.message}"
        except Exception as error:  # the script's failure is the run's failure
            run.state, run.error = (
                "FAILED",
                f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:2048],
            )
        run.seconds = time.monotonic() - started
        run.completed = self.clock()
        state = "SUCCEEDED" if run.state == "SUCCEEDED" else "FAILED"
        self._glue_event(
            "Glue Job State Change",
            {
                "jobName": name,
                "severity": "INFO" if state == "SUCCEEDED" else "ERROR",
                "state": state,
                "jobRunId": run_id,
                "message": "Job run succeeded" if state == "SUCCEEDED" else (run.error or "Job run failed"),
            },
        )
        return run

    def _execute(self, job: Job, run: JobRun) -> None:
        purpose = f"job {job.name} run"
        self.iam.assume(job.role, "glue.amazonaws.com", purpose=purpose)
        # Glue downloads the script as the job's role.
        bucket, _, key = job.script_location.removeprefix("s3://").partition("/")
        self.iam.require(
            job.role,
            "s3:GetObject",
            f"arn:{self.assembly.env.partition}:s3:::{bucket}/{key}",
            purpose=f"{purpose}: script",
        )
        self._logs(job.role, "/aws-glue/jobs/output", job.security_configuration, purpose)
        if (
            "--enable-metrics" in run.arguments
            or run.arguments.get("--enable-observability-metrics") == "true"
        ):
            self.iam.require(
                job.role,
                "cloudwatch:PutMetricData",
                "*",
                context={"cloudwatch:namespace": "Glue"},
                purpose=f"{purpose}: metrics",
            )
        bookmarks = run.arguments.get("--job-bookmark-option", "job-bookmark-disable")
        config = self.security_configurations.get(job.security_configuration or "", {})
        bookmark_encryption = config.get("JobBookmarksEncryption", {})
        if (
            bookmarks != "job-bookmark-disable"
            and bookmark_encryption.get("JobBookmarksEncryptionMode") == "CSE-KMS"
        ):
            for action in ("kms:Decrypt", "kms:GenerateDataKey"):
                self.iam.require(
                    job.role,
                    action,
                    str(bookmark_encryption["KmsKeyArn"]),
                    purpose=f"{purpose}: encrypted bookmark",
                )
        spark = twin_spark.session()
        # A Glue run starts a fresh session: nothing cached by an earlier run (of any twin) may stand in
        # for this run's reads, whose files may have changed or live under another root.
        spark.catalog.clearCache()
        twin_spark.set_s3_root(spark, self.s3.root)
        twin_spark.drain_audit(spark)
        argv = [
            str(job.script),
            "--JOB_ID",
            f"j_{hashlib.sha256(job.name.encode()).hexdigest()[:40]}",
            "--JOB_RUN_ID",
            run.id,
            "--JOB_NAME",
            job.name,
        ]
        for name, value in run.arguments.items():
            argv += [name, value]
        hooks = _RunHooks(self, job, run, bookmarks)
        python_path = self._extra_python_files(job, run, purpose)
        sdk_answers = {
            ("glue", "GetTable"): lambda params: self.get_table(job.role, params, purpose),
            ("glue", "BatchCreatePartition"): lambda params: self.batch_create_partition(
                job.role, params, purpose
            ),
        }
        try:
            with (
                glue_runtime.installed(hooks),
                _captured(run),
                _argv(argv),
                _python_path(python_path),
                sdk.answered_by(self.assembly.env.region, sdk_answers),
            ):
                runpy.run_path(str(job.script), run_name="__main__")
        finally:
            requests = twin_spark.drain_audit(spark)
            run.s3_requests = len(requests)
            sse_key = self._s3_key(job.security_configuration)
            for operation, bucket_name, object_key in requests:
                self.s3.authorize(
                    job.role, operation, bucket_name, object_key, purpose=purpose, sse_key=sse_key
                )
                if operation == "PutObject":
                    self._object_written(bucket_name, object_key)
        if hooks.committed and bookmarks == "job-bookmark-enable":
            stored = self.bookmarks.setdefault(job.name, {})
            for context, files in hooks.staged.items():
                stored.setdefault(context, {}).update(files)

    def _extra_python_files(self, job: Job, run: JobRun, purpose: str) -> list[str]:
        """``--extra-py-files``: each S3 object (downloaded as the job's role) from the assembly's assets;
        a zip asset is staged as a folder there, which goes on the Python path as the zip would."""
        paths = []
        for url in filter(None, run.arguments.get("--extra-py-files", "").split(",")):
            bucket, _, key = url.removeprefix("s3://").partition("/")
            self.iam.require(
                job.role,
                "s3:GetObject",
                f"arn:{self.assembly.env.partition}:s3:::{bucket}/{key}",
                purpose=f"{purpose}: {url}",
            )
            local = self.assembly.asset(key)
            paths.append(str(local if local.is_dir() else local.parent))
        return paths

    # --- the Glue API as a job's SDK client sees it (registering partitions) ---

    def _table_for(self, role: str, params: Mapping[str, Any], action: str, purpose: str) -> Table:
        database, name = str(params["DatabaseName"]), str(params.get("Name") or params.get("TableName"))
        self._require_catalog(role, action, database, name, purpose)
        table = self.catalog.table(database, name)
        if table is None:
            raise sdk.SdkError("EntityNotFoundException", f"Table {name} not found in {database}")
        return table

    def get_table(self, role: str, params: Mapping[str, Any], purpose: str) -> dict[str, Any]:
        table = self._table_for(role, params, "glue:GetTable", purpose)
        shaped: dict[str, Any] = ServiceApi("glue").shape("GetTable", {"Table": table.api()})
        return shaped

    def batch_create_partition(self, role: str, params: Mapping[str, Any], purpose: str) -> dict[str, Any]:
        table = self._table_for(role, params, "glue:BatchCreatePartition", purpose)
        entries = list(params["PartitionInputList"])
        if len(entries) > 100:
            raise sdk.SdkError("InvalidInputException", "PartitionInputList holds at most 100 partitions")
        errors = []
        for entry in entries:
            values = tuple(str(v) for v in entry["Values"])
            if len(values) != len(table.partition_keys):
                raise sdk.SdkError(
                    "InvalidInputException",
                    f"partition values {list(values)} do not match the keys "
                    f"{[k for k, _ in table.partition_keys]}",
                )
            location = str(entry.get("StorageDescriptor", {}).get("Location", ""))
            if not location.startswith(table.location.rstrip("/") + "/"):
                raise sdk.SdkError(
                    "InvalidInputException", f"partition location {location} is outside {table.location}"
                )
            if values in table.partitions:
                errors.append(
                    {
                        "PartitionValues": list(values),
                        "ErrorDetail": {
                            "ErrorCode": "AlreadyExistsException",
                            "ErrorMessage": "Partition already exists.",
                        },
                    }
                )
                continue
            table.partitions[values] = location
            table.registrations += 1
        response: dict[str, Any] = ServiceApi("glue").shape(
            "BatchCreatePartition", {"Errors": errors} if errors else {}
        )
        return response

    def _object_written(self, bucket: str, key: str) -> None:
        path = self.s3.path(bucket, key)
        if path.is_file():
            from local_twin.s3 import S3Object  # noqa: PLC0415

            self.s3.object_created(
                S3Object(bucket, key, path.stat().st_size, path.stat().st_mtime),
                reason="PutObject",
                requester="glue.amazonaws.com",
            )

    # --- data quality ---

    def _start_dq_run(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        names = list(params["RulesetNames"])
        for name in names:
            self.iam.require(
                ctx.role,
                "glue:StartDataQualityRulesetEvaluationRun",
                self._arn(f"dataQualityRuleset/{name}"),
                purpose=ctx.purpose,
            )
        role = str(params["Role"])
        self.iam.require(
            ctx.role,
            "iam:PassRole",
            role,
            context={"iam:PassedToService": "glue.amazonaws.com"},
            purpose=f"{ctx.purpose}: pass the evaluation role",
        )
        source = params["DataSource"].get("GlueTable")
        if source is None:
            raise ServiceError("InvalidInputException", "the twin evaluates GlueTable data sources only")
        options = dict(source.get("AdditionalOptions", {}))
        predicate = options.pop("pushDownPredicate", None)
        if options:
            raise ServiceError(
                "InvalidInputException",
                f"AdditionalOptions {sorted(options)} are not supported by the twin (pushDownPredicate is)",
            )
        if len(names) != 1 or names[0] not in self.rulesets:
            raise ServiceError("EntityNotFoundException", f"Ruleset {names} not found")
        run = DataQualityRun(
            id="dqrun-" + uuid.uuid4().hex,
            ruleset=names[0],
            database=str(source["DatabaseName"]),
            table=str(source["TableName"]),
            role=role,
            started=self.clock(),
            predicate=predicate,
        )
        self.dq_runs[run.id] = run
        self._evaluate(run)
        return {"RunId": run.id}

    def _evaluate(self, run: DataQualityRun) -> None:
        purpose = f"data-quality run of {run.ruleset}"
        env = self.assembly.env
        try:
            self.iam.assume(run.role, "glue.amazonaws.com", purpose=purpose)
            # Glue downloads its data-quality engine from AWS's regional assets bucket as this role.
            self.iam.require(
                run.role,
                "s3:GetObject",
                f"arn:{env.partition}:s3:::aws-glue-ml-data-quality-assets-{env.region}/jars/dq-engine.jar",
                purpose=f"{purpose}: engine",
            )
            self._require_catalog(
                run.role, "glue:GetDatabase", "default", None, f"{purpose}: Spark session start"
            )
            for action in ("glue:GetTable", "glue:GetPartitions"):
                self._require_catalog(run.role, action, run.database, run.table, purpose)
            table = self.catalog.table(run.database, run.table)
            if table is None:
                raise ServiceError(
                    "EntityNotFoundException", f"Table {run.table} not found in database {run.database}"
                )
            data = self.read_table(run.role, table, purpose, predicate=run.predicate)
            run.partitions_evaluated = self.last_partitions_read
            rules = dqdl.parse(str(self.rulesets[run.ruleset]["Ruleset"]))
            try:
                results = dqdl.evaluate(rules, data)
            finally:
                data.unpersist()
            result_id = "dqresult-" + uuid.uuid4().hex
            self.dq_results[result_id] = {
                "ResultId": result_id,
                "Score": dqdl.score(results),
                "DataSource": {"GlueTable": {"DatabaseName": run.database, "TableName": run.table}},
                "RulesetName": run.ruleset,
                "StartedOn": run.started,
                "CompletedOn": self.clock(),
                "RulesetEvaluationRunId": run.id,
                "RuleResults": results,
            }
            run.status, run.result_id = "SUCCEEDED", result_id
        except (AccessDenied, ServiceError) as error:
            run.status, run.error = "FAILED", str(error)
        except dqdl.DqdlError:
            raise
        run.completed = self.clock()

    def read_table(self, role: str, table: Table, purpose: str, *, predicate: str | None = None) -> Any:
        """The table's data as a Glue reader sees it through the catalog: each registered partition's
        objects (those ``predicate``, a ``pushDownPredicate``, selects), with the partition values typed
        as the catalog types them as columns."""
        spark = twin_spark.session()
        twin_spark.set_s3_root(spark, self.s3.root)
        twin_spark.drain_audit(spark)
        from pyspark.sql import functions as sf  # noqa: PLC0415

        frames = []
        locations = list(table.partitions.items()) if table.partition_keys else [((), table.location)]
        if predicate:
            selected = _select_partitions(spark, table, predicate)
            locations = [(values, location) for values, location in locations if values in selected]
        self.last_partitions_read = len(locations)
        keys = [key for key, _ in table.partition_keys]
        try:
            root = table.location.rstrip("/") + "/"
            hive_layout = all(
                location.rstrip("/") + "/"
                == root + "".join(f"{k}={v}/" for k, v in zip(keys, values, strict=True))
                for values, location in locations
            )
            if table.partition_keys and locations and hive_layout:
                # One read of every partition folder (Spark adds the keys from the paths, as text), typed
                # as the catalog types them: a union per partition would grow the plan with the history.
                inference = "spark.sql.sources.partitionColumnTypeInference.enabled"
                saved = spark.conf.get(inference) or "true"
                spark.conf.set(inference, "false")
                try:
                    frame = (
                        spark.read.option("basePath", root).parquet(*[loc for _, loc in locations])
                        if table.classification == "parquet"
                        else spark.read.option("basePath", root).json(*[loc for _, loc in locations])
                    )
                finally:
                    spark.conf.set(inference, saved)
                for key, kind in table.partition_keys:
                    frame = frame.withColumn(key, sf.col(key).cast(kind))
                frames.append(frame)
            else:
                for values, location in locations:
                    frame = (
                        spark.read.parquet(location)
                        if table.classification == "parquet"
                        else spark.read.json(location)
                    )
                    for (key, kind), value in zip(table.partition_keys, values, strict=True):
                        frame = frame.withColumn(key, sf.lit(value).cast(kind))
                    frames.append(frame)
            if not frames:
                from pyspark.sql.types import StringType, StructField, StructType  # noqa: PLC0415

                schema = StructType(
                    [StructField(n, StringType()) for n, _ in (*table.columns, *table.partition_keys)]
                )
                return spark.createDataFrame([], schema)
            data = frames[0]
            for frame in frames[1:]:
                data = data.unionByName(frame, allowMissingColumns=True)
            data = data.cache()
            data.count()  # read now: the S3 requests are authorized below, as the role's
            return data
        finally:
            for operation, bucket, key in twin_spark.drain_audit(spark):
                self.s3.authorize(role, operation, bucket, key, purpose=purpose)

    def _get_dq_run(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        run = self.dq_runs.get(str(params["RunId"]))
        if run is None:
            raise ServiceError("EntityNotFoundException", f"Run {params['RunId']} not found")
        self.iam.require(
            ctx.role,
            "glue:GetDataQualityRulesetEvaluationRun",
            self._arn(f"dataQualityRuleset/{run.ruleset}"),
            purpose=ctx.purpose,
        )
        described: dict[str, Any] = {
            "RunId": run.id,
            "DataSource": {"GlueTable": {"DatabaseName": run.database, "TableName": run.table}},
            "Role": run.role,
            "Status": run.status,
            "StartedOn": run.started,
            "RulesetNames": [run.ruleset],
        }
        if run.completed:
            described["CompletedOn"] = run.completed
        if run.error:
            described["ErrorString"] = run.error
        if run.result_id:
            described["ResultIds"] = [run.result_id]
        return described

    def _get_dq_result(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        result = self.dq_results.get(str(params["ResultId"]))
        if result is None:
            raise ServiceError("EntityNotFoundException", f"Result {params['ResultId']} not found")
        self.iam.require(
            ctx.role,
            "glue:GetDataQualityResult",
            self._arn(f"dataQualityRuleset/{result['RulesetName']}"),
            purpose=ctx.purpose,
        )
        return result

    # --- events ---

    def _glue_event(self, detail_type: str, detail: dict[str, Any]) -> None:
        env = self.assembly.env
        self.events.put_event(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": detail_type,
                "source": "aws.glue",
                "account": env.account,
                "time": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": env.region,
                "resources": [],
                "detail": detail,
            }
        )


def _select_partitions(spark: Any, table: Table, predicate: str) -> set[tuple[str, ...]]:
    """The registered partitions a ``pushDownPredicate`` (Spark SQL on the partition columns, typed as
    the catalog types them) selects."""
    from pyspark.sql import functions as sf  # noqa: PLC0415

    keys = [key for key, _ in table.partition_keys]
    if not table.partitions:
        return set()
    values = spark.createDataFrame([list(v) for v in table.partitions], keys)
    typed = values.select(
        *(sf.col(key).cast(kind).alias(key) for key, kind in table.partition_keys),
        *(sf.col(k).alias(f"_{k}") for k in keys),
    )
    return {tuple(str(row[f"_{k}"]) for k in keys) for row in typed.where(predicate).collect()}


@contextmanager
def _python_path(paths: list[str]) -> Iterator[None]:
    """The folders on the Python path, their modules imported from them (not an earlier import of the
    same name, e.g. the repository's copy in the test suite)."""
    names = {
        entry.stem if entry.suffix == ".py" else entry.name
        for path in paths
        for entry in Path(path).iterdir()
        if entry.suffix == ".py" or (entry / "__init__.py").is_file()
    }
    shadowed = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    added = [p for p in paths if p not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for path in added:
            sys.path.remove(path)
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(shadowed)


@contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved


@contextmanager
def _captured(run: JobRun) -> Iterator[None]:
    """The run's output, as CloudWatch would hold it: printed lines and every log record (whatever
    handler a script configured); JSON lines with a ``job`` key are the scripts' run summaries."""
    original = logging.Logger.handle
    printed = io.StringIO()

    def handle(self: logging.Logger, record: logging.LogRecord) -> None:
        run.log.append(record.getMessage())
        original(self, record)

    logging.Logger.handle = handle  # type: ignore[method-assign]
    try:
        with redirect_stdout(printed):
            yield
    finally:
        logging.Logger.handle = original  # type: ignore[method-assign]
        run.log.extend(printed.getvalue().splitlines())
        for line in dict.fromkeys(run.log):  # a logged line may also have been printed by its handler
            if line.startswith("{"):
                try:
                    parsed = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(parsed, dict) and "job" in parsed:
                    run.summaries.append(parsed)
