"""Redshift Data API: statements are captured and checked, not run; answers are shaped as the API's.

``BatchExecuteStatement`` is authorized for the caller on the workgroup (or cluster), with the
credentials it names: ``secretsmanager:GetSecretValue`` (and ``kms:Decrypt`` on the secret's key) for a
secret, else ``redshift-serverless:GetCredentials``. Each SQL statement must be one the twin understands;
today that is ``CREATE EXTERNAL SCHEMA [IF NOT EXISTS] <name> FROM DATA CATALOG DATABASE '<db>'
IAM_ROLE '<arn>'|default [REGION '<region>'] [CREATE EXTERNAL DATABASE IF NOT EXISTS]``. For it the twin
checks what Redshift Spectrum will need: the database exists in the catalog (unless it is to be created), the
role is associated with the namespace or cluster and trusts Redshift, and the role may read the
catalog (``glue:GetDatabase``, and for each table ``glue:GetTable``/``GetPartitions``) and the tables'
objects (``s3:ListBucket`` on each location, ``s3:GetObject`` and ``kms:Decrypt`` on one object per
partition). A statement the twin does not understand fails the batch, naming it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local_twin.assembly import CloudAssembly
from local_twin.glue import Glue
from local_twin.iam import AccessDenied, PolicyEngine
from local_twin.s3 import S3
from local_twin.stepfunctions import ServiceError, StepFunctions, TaskContext

_EXTERNAL_SCHEMA = re.compile(
    r"\s*CREATE\s+EXTERNAL\s+SCHEMA\s+(?P<if>IF\s+NOT\s+EXISTS\s+)?(?P<schema>\w+)\s+FROM\s+DATA\s+CATALOG\s+"
    r"DATABASE\s+'(?P<database>[^']+)'\s+IAM_ROLE\s+(?:'(?P<role>[^']+)'|(?P<default>default))(?:\s+REGION\s+'(?P<region>[^']+)')?"
    r"(?P<create>\s+CREATE\s+EXTERNAL\s+DATABASE\s+IF\s+NOT\s+EXISTS)?\s*;?\s*",
    re.IGNORECASE,
)


@dataclass
class Statement:
    id: str
    sql: str
    status: str = "SUBMITTED"
    error: str | None = None


@dataclass
class Batch:
    id: str
    target: str
    database: str
    statements: list[Statement]
    created: datetime
    status: str = "FINISHED"
    error: str | None = None


@dataclass
class RedshiftData:
    assembly: CloudAssembly
    iam: PolicyEngine
    glue: Glue
    s3: S3
    clock: Any
    batches: dict[str, Batch] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.targets: dict[str, dict[str, Any]] = {}  # workgroup name or cluster id -> what it is
        namespaces = {r.name: r for r in self.assembly.resources("AWS::RedshiftServerless::Namespace")}
        for workgroup in self.assembly.resources("AWS::RedshiftServerless::Workgroup"):
            namespace = namespaces[str(workgroup.properties["NamespaceName"])]
            self.targets[workgroup.name] = {
                "arn": workgroup.attribute("Workgroup.WorkgroupArn"),
                "roles": {str(r) for r in namespace.properties.get("IamRoles", [])},
                "default_role": namespace.properties.get("DefaultIamRoleArn"),
                "secret_key": namespace.properties.get("AdminPasswordSecretKmsKeyId"),
            }
        for cluster in self.assembly.resources("AWS::Redshift::Cluster"):
            self.targets[cluster.name] = {
                "arn": self.assembly.env.arn("redshift", f"cluster:{cluster.name}"),
                "roles": {str(r) for r in cluster.properties.get("IamRoles", [])},
                "default_role": cluster.properties.get("DefaultIamRoleArn"),
                "secret_key": None,
            }

    def register(self, sfn: StepFunctions) -> None:
        sfn.handlers[("redshiftdata", "batchExecuteStatement")] = self._batch_execute
        sfn.handlers[("redshiftdata", "describeStatement")] = self._describe

    def _batch_execute(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("WorkgroupName") or params.get("ClusterIdentifier")
        if name not in self.targets:
            raise ServiceError("ResourceNotFoundException", f"workgroup or cluster {name} not found")
        target = self.targets[str(name)]
        self.iam.require(ctx.role, "redshift-data:BatchExecuteStatement", target["arn"], purpose=ctx.purpose)
        env = self.assembly.env
        if "SecretArn" in params:
            secret = str(params["SecretArn"])
            self.iam.require(
                ctx.role, "secretsmanager:GetSecretValue", secret, purpose=f"{ctx.purpose}: credentials"
            )
            if target["secret_key"] is not None:
                self.iam.require(
                    ctx.role,
                    "kms:Decrypt",
                    str(target["secret_key"]),
                    context={
                        "kms:ViaService": f"secretsmanager.{env.region}.{env.url_suffix}",
                        "kms:EncryptionContext:SecretARN": secret,
                    },
                    purpose=f"{ctx.purpose}: credentials",
                )
        elif "WorkgroupName" in params:
            self.iam.require(
                ctx.role,
                "redshift-serverless:GetCredentials",
                target["arn"],
                purpose=f"{ctx.purpose}: credentials",
            )
        batch = Batch(
            str(uuid.uuid4()),
            str(name),
            str(params["Database"]),
            [Statement(f"{uuid.uuid4()}:{i + 1}", sql) for i, sql in enumerate(params["Sqls"])],
            self.clock(),
        )
        for statement in batch.statements:
            if batch.status == "FAILED":
                statement.status = "ABORTED"
                continue
            try:
                self._execute(statement, target, ctx.purpose)
                statement.status = "FINISHED"
            except (AccessDenied, ValueError) as error:
                statement.status, statement.error = "FAILED", str(error)
                batch.status, batch.error = "FAILED", f"statement {statement.id}: {error}"
        self.batches[batch.id] = batch
        return {
            "Id": batch.id,
            "CreatedAt": batch.created,
            "Database": batch.database,
            **({"WorkgroupName": name} if "WorkgroupName" in params else {"ClusterIdentifier": name}),
        }

    def _execute(self, statement: Statement, target: dict[str, Any], purpose: str) -> None:
        match = _EXTERNAL_SCHEMA.fullmatch(statement.sql)
        if match is None:
            raise ValueError(f"the twin does not run this statement: {statement.sql[:200]!r}")
        database, role = match.group("database"), match.group("role")
        if match.group("default"):
            role = target["default_role"]
            if role is None:
                raise ValueError(
                    "IAM_ROLE default: the workgroup's namespace (or cluster) has no default IAM role"
                )
        if role not in target["roles"]:
            raise ValueError(f"IAM_ROLE {role} is not associated with the workgroup or cluster")
        self.iam.assume(role, "redshift.amazonaws.com", purpose=f"{purpose}: Spectrum")
        spectrum = f"{purpose}: Spectrum schema {match.group('schema')}"
        self.iam.require(
            role, "glue:GetDatabase", self.assembly.env.arn("glue", f"database/{database}"), purpose=spectrum
        )
        if database not in self.glue.catalog.databases:
            if match.group("create"):
                return
            raise ValueError(f"database {database} does not exist in the Data Catalog")
        for table in self.glue.catalog.databases[database].values():
            table_arn = self.assembly.env.arn("glue", f"table/{database}/{table.name}")
            for action in ("glue:GetTable", "glue:GetPartitions"):
                self.iam.require(role, action, table_arn, purpose=spectrum)
            locations = list(table.partitions.values()) if table.partition_keys else [table.location]
            for location in locations:
                bucket, _, prefix = location.removeprefix("s3://").partition("/")
                objects = self.s3.list_objects(role, bucket, prefix, purpose=spectrum)
                data = [o for o in objects if not o.key.rsplit("/", 1)[-1].startswith(("_", "."))]
                if data:
                    self.s3.authorize(role, "GetObject", bucket, data[0].key, purpose=spectrum)

    def _describe(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        self.iam.require(ctx.role, "redshift-data:DescribeStatement", "*", purpose=ctx.purpose)
        batch = self.batches.get(str(params["Id"]))
        if batch is None:
            raise ServiceError("ResourceNotFoundException", f"statement {params['Id']} not found")
        described: dict[str, Any] = {
            "Id": batch.id,
            "Status": batch.status,
            "Database": batch.database,
            "CreatedAt": batch.created,
            "UpdatedAt": self.clock(),
            "HasResultSet": False,
            "SubStatements": [
                {
                    "Id": s.id,
                    "Status": s.status,
                    "QueryString": s.sql,
                    "HasResultSet": False,
                    **({"Error": s.error} if s.error else {}),
                }
                for s in batch.statements
            ],
        }
        if batch.error:
            described["Error"] = batch.error
        return described
