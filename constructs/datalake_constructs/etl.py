"""Glue 5.0 PySpark ETL jobs between data-lake zones, their data-quality rules and failure alerts.

Depends only on aws-cdk-lib, ``constructs`` and the standard library: copy this one file into your app.
Requires Python >= 3.11 and aws-cdk-lib >= 2.275.0: the versions it is tested with, its example
run alone in fresh apps (tests/copy_paste). Import it by its file name: ``from etl import ...``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

_PREFIX_RE = re.compile(r"^([a-zA-Z0-9_\-.=]+/)+$")
_ARG_RE = re.compile(r"^--[a-z][a-z0-9_-]*$")
MAX_TIMEOUT_MINUTES = 2880  # Glue's limit (48 h)
MAX_WORKERS = 299  # G.1X/G.2X per-job default quota


class GlueEtlJob(Construct):
    """A Glue 5.0 PySpark job that reads one zone prefix and writes another, secure and observable.

    Job bookmarks are on (each run processes only new input), continuous logging, job metrics and
    observability metrics are on, logs and bookmarks are encrypted by the given security
    configuration, concurrency is 1 (runs of one job never overlap) and retries are left to the
    orchestrator. The role may read only the source prefix, write only the target and quarantine
    prefixes (and read what it writes: stored ids to skip redelivered events, its own files when an
    output committer copies them into place), and use only the two zone keys.

    The script receives ``--source``, ``--target`` and ``--quarantine`` as S3 URLs and, with
    ``catalog_table``, ``--catalog_database`` and ``--catalog_table``: the table whose partitions the
    job registers as it writes them (``glue:GetTable`` and ``glue:BatchCreatePartition`` on that table
    only), so queries see new data when the job ends, without a crawler.

    Example::

        import tempfile
        from pathlib import Path

        import aws_cdk as cdk
        from aws_cdk import aws_glue as glue
        from aws_cdk import aws_kms as kms
        from aws_cdk import aws_s3 as s3

        from etl import GlueEtlJob

        app = cdk.App()
        stack = cdk.Stack(app, "Etl")
        data_key = kms.Key(stack, "DataKey", enable_key_rotation=True)
        glue_key = kms.Key(stack, "GlueKey", enable_key_rotation=True)
        raw, processed = (
            s3.Bucket(
                stack, name, encryption=s3.BucketEncryption.KMS, encryption_key=data_key, enforce_ssl=True
            )
            for name in ("Raw", "Processed")
        )
        security = glue.SecurityConfiguration(  # or DataLakeCatalog(...).security_configuration
            stack, "Security",
            cloud_watch_encryption=glue.CloudWatchEncryption.kms(glue_key),
            job_bookmarks_encryption=glue.JobBookmarksEncryption.client_side_kms(glue_key),
            s3_encryption=glue.S3Encryption.kms(glue_key),
        )
        script = Path(tempfile.mkdtemp()) / "copy_events.py"  # your PySpark script
        script.write_text("print('reads --source, writes --target and --quarantine')")
        job = GlueEtlJob(
            stack, "RawToProcessed",
            script=str(script),
            source_bucket=raw, source_prefix="events/",
            target_bucket=processed, target_prefix="events/",
            security_configuration=security,
            encryption_key=glue_key,
        )
        print(job.job.job_name)
        app.synth()

    Args:
        script: path of the PySpark script, shipped as an asset.
        source_bucket, source_prefix: what the job reads (prefix ends with ``/``).
        target_bucket, target_prefix: where it writes (prefix ends with ``/``).
        quarantine_prefix: where rejected rows go, in the target bucket.
            Default: ``_quarantine/<target_prefix>``.
        source_consumed_prefix: a folder under ``source_prefix`` whose objects the job may delete
            once handled: a work queue the upstream job fills (e.g. ``_changed_dates/``, the dates
            raw_to_processed changed, which processed_to_consumer recomputes). The job may also put
            objects there: Hadoop's S3 clients can write a folder marker when a delete empties a
            folder. Default: none (the source is read-only).
        security_configuration: encrypts the job's logs and bookmarks.
        encryption_key: the security configuration's key (the role must use it).
        worker_type: Default: G.1X. number_of_workers: 2-299. Default: 2.
        timeout: 1 minute to 48 hours. Default: 60 minutes.
        max_concurrent_runs: Default: 1.
        extra_arguments: more ``--name: value`` job arguments.
        catalog_table: the table the job registers partitions in (a table of the target). Default:
            none (the job registers nothing).
        extra_python_files: code the script imports (``--extra-py-files``), e.g. a zip of modules:
            ``asset = aws_s3_assets.Asset(self, "Lib", path="lib")`` then
            ``glue.Code.from_bucket(asset.bucket, asset.s3_object_key)``; its top-level modules are
            importable by name (a single ``.py`` asset would be named after its hash). Default: none.
        job_name: Default: generated.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        script: str,
        source_bucket: s3.IBucket,
        source_prefix: str,
        target_bucket: s3.IBucket,
        target_prefix: str,
        security_configuration: glue.ISecurityConfiguration,
        encryption_key: kms.IKey,
        quarantine_prefix: str | None = None,
        source_consumed_prefix: str | None = None,
        worker_type: glue.WorkerType = glue.WorkerType.G_1X,
        number_of_workers: int = 2,
        timeout: cdk.Duration | None = None,
        max_concurrent_runs: int = 1,
        extra_arguments: Mapping[str, str] | None = None,
        catalog_table: glue.TableBase | None = None,
        extra_python_files: Sequence[glue.Code] = (),
        job_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        quarantine = quarantine_prefix if quarantine_prefix is not None else f"_quarantine/{target_prefix}"
        timeout = timeout if timeout is not None else cdk.Duration.minutes(60)
        _validate(
            source_prefix=source_prefix,
            target_prefix=target_prefix,
            quarantine_prefix=quarantine,
            source_consumed_prefix=source_consumed_prefix,
            number_of_workers=number_of_workers,
            timeout=timeout,
            max_concurrent_runs=max_concurrent_runs,
            extra_arguments=extra_arguments or {},
        )
        self.source_url = f"s3://{source_bucket.bucket_name}/{source_prefix}"
        self.target_url = f"s3://{target_bucket.bucket_name}/{target_prefix}"
        self.quarantine_url = f"s3://{target_bucket.bucket_name}/{quarantine}"

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Glue job {construct_id}: {source_prefix} -> {target_prefix}",
        )
        self.policy = self._policy(
            source_bucket=source_bucket,
            source_prefix=source_prefix,
            target_bucket=target_bucket,
            target_prefix=target_prefix,
            quarantine_prefix=quarantine,
            consumed=(
                # No trailing "/": also the folder's own marker objects ("<folder>/", "<folder>_$folder$").
                source_bucket.arn_for_objects(f"{source_prefix}{source_consumed_prefix.rstrip('/')}*")
                if source_consumed_prefix is not None
                else None
            ),
            glue_key=encryption_key,
            catalog_table=catalog_table,
        )
        catalog_arguments = (
            {
                "--catalog_database": catalog_table.database.database_name,
                "--catalog_table": catalog_table.table_name,
            }
            if catalog_table is not None
            else {}
        )
        self.job = glue.PySparkEtlJob(
            self,
            "Job",
            job_name=job_name,
            role=self.role,
            script=glue.Code.from_asset(script),
            glue_version=glue.GlueVersion.V5_0,
            worker_configuration=glue.WorkerConfiguration(
                worker_type=worker_type, number_of_workers=number_of_workers
            ),
            timeout=timeout,
            max_concurrent_runs=max_concurrent_runs,
            max_retries=0,  # the orchestrator retries with backoff; Glue's immediate retry would not
            extra_python_files=list(extra_python_files) or None,
            security_configuration=security_configuration,
            continuous_logging=glue.ContinuousLoggingProps(enabled=True),
            enable_metrics=True,
            enable_observability_metrics=True,
            default_arguments={
                "--job-bookmark-option": "job-bookmark-enable",
                "--source": self.source_url,
                "--target": self.target_url,
                "--quarantine": self.quarantine_url,
                **catalog_arguments,
                **(extra_arguments or {}),
            },
        )
        self._acknowledge_asset_grant()

    @property
    def job_name(self) -> str:
        return self.job.job_name

    @property
    def job_arn(self) -> str:
        return self.job.job_arn

    def _policy(
        self,
        *,
        source_bucket: s3.IBucket,
        source_prefix: str,
        target_bucket: s3.IBucket,
        target_prefix: str,
        quarantine_prefix: str,
        consumed: str | None,
        glue_key: kms.IKey,
        catalog_table: glue.TableBase | None,
    ) -> iam.ManagedPolicy:
        stack = cdk.Stack.of(self)
        # The target and quarantine too: the job reads stored ids to skip redeliveries, and a Hadoop
        # output committer that commits by renaming copies its own files (CopyObject needs GetObject).
        reads = [
            source_bucket.arn_for_objects(f"{source_prefix}*"),
            target_bucket.arn_for_objects(f"{target_prefix}*"),
            target_bucket.arn_for_objects(f"{quarantine_prefix}*"),
        ]
        writes = [
            target_bucket.arn_for_objects(f"{target_prefix}*"),
            target_bucket.arn_for_objects(f"{quarantine_prefix}*"),
            *([consumed] if consumed else []),
        ]
        log_groups = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws-glue/jobs*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        statements = [
            iam.PolicyStatement(actions=["s3:GetObject"], resources=reads),
            iam.PolicyStatement(actions=["s3:PutObject", "s3:DeleteObject"], resources=writes),
            *(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
                )
                for bucket, prefixes in _by_bucket(
                    [
                        (source_bucket, source_prefix),
                        (target_bucket, target_prefix),
                        (target_bucket, quarantine_prefix),
                    ]
                )
            ),
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:AssociateKmsKey",
                ],
                resources=[log_groups],
            ),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],  # PutMetricData has no resource ARNs; limited to Glue's namespace
                conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
            ),
            iam.PolicyStatement(
                actions=["glue:GetSecurityConfiguration"],
                resources=["*"],  # security configurations have no ARN to scope to
            ),
            iam.PolicyStatement(
                actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], resources=[glue_key.key_arn]
            ),
        ]
        if catalog_table is not None:
            statements.append(
                iam.PolicyStatement(
                    actions=["glue:GetTable", "glue:BatchCreatePartition"],
                    resources=[
                        stack.format_arn(service="glue", resource="catalog"),
                        catalog_table.database.database_arn,
                        catalog_table.table_arn,
                    ],
                )
            )
        if source_bucket.encryption_key is not None:
            statements.append(
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[source_bucket.encryption_key.key_arn])
            )
        if target_bucket.encryption_key is not None:
            statements.append(
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[target_bucket.encryption_key.key_arn],
                )
            )
        policy = iam.ManagedPolicy(self, "Policy", statements=statements, roles=[self.role])
        findings = {
            **{
                f"Resource::{_nag_format(policy, arn)}": (
                    "The job reads or writes every object under its own source, target or quarantine "
                    "prefix, and nothing else in the zone buckets."
                )
                for arn in dict.fromkeys([*reads, *writes])  # ordered: deterministic templates
            },
            **(
                {
                    f"Resource::{_nag_format(policy, consumed)}": (
                        "The job deletes the work items (markers) it has handled in one folder of its "
                        "source prefix (and may write that folder's marker object, as Hadoop's S3 clients "
                        "do when a delete empties it); nothing else in the source."
                    )
                }
                if consumed
                else {}
            ),
            f"Resource::{_nag_format(policy, log_groups)}": (
                "Glue writes continuous logs to /aws-glue/jobs/* log groups (per security configuration when "
                "encrypted); the wildcard covers exactly those."
            ),
            "Resource::*": (
                "cloudwatch:PutMetricData (restricted to the Glue namespace by condition) and "
                "glue:GetSecurityConfiguration support no resource-level permissions."
            ),
        }
        for finding, reason in findings.items():
            _acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
        return policy

    def _acknowledge_asset_grant(self) -> None:
        """The L2 grants the role read access to the script asset through an inline policy."""
        default_policy = self.role.node.try_find_child("DefaultPolicy")
        if default_policy is None:
            return
        # The default synthesizer's asset bucket, with the app's bootstrap qualifier (cdk bootstrap
        # --qualifier); an app with another synthesizer names its own bucket, acknowledged by the app.
        synthesizer = cdk.Stack.of(self).synthesizer
        qualifier = synthesizer.bootstrap_qualifier or cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
        stack = cdk.Stack.of(self)  # literal account and region where the stack has them
        asset_bucket = _nag_format(
            self, f"arn:{stack.partition}:s3:::cdk-{qualifier}-assets-{stack.account}-{stack.region}"
        )
        reason = (
            "aws-cdk-lib's Glue job reads its script from the CDK asset bucket; the grant is read-only "
            "and limited to that bucket."
        )
        for finding in (
            "Action::s3:GetBucket*",
            "Action::s3:GetObject*",
            "Action::s3:List*",
            f"Resource::{asset_bucket}/*",
        ):
            _acknowledge(default_policy, f"AwsSolutions-IAM5[{finding}]", reason)
        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
            _acknowledge(default_policy, f"{pack}-IAMNoInlinePolicy", reason)


class GlueDataQualityRole(Construct):
    """The role Glue Data Quality assumes to evaluate a ruleset on one catalog table.

    It may read only that table's metadata and partitions, the objects under its S3 prefix (and
    decrypt them), Glue's own data-quality engine from AWS's regional assets bucket (without it every
    run ends in "LAUNCH ERROR: Error downloading from S3 for bucket
    aws-glue-ml-data-quality-assets-<region>"), write its own logs and publish data-quality results.

    Example::

        import aws_cdk as cdk
        from aws_cdk import aws_kms as kms
        from aws_cdk import aws_s3 as s3

        from etl import GlueDataQualityRole

        app = cdk.App()
        stack = cdk.Stack(app, "Quality")
        processed = s3.Bucket(
            stack, "Processed",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=kms.Key(stack, "Key", enable_key_rotation=True),
            enforce_ssl=True,
        )
        dq = GlueDataQualityRole(
            stack, "DqRole",
            database_name="sales_dev_processed", table_name="events",
            bucket=processed, prefix="events/",
        )
        print(dq.role.role_arn)  # pass it to StartDataQualityRulesetEvaluationRun
        app.synth()

    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        database_name: str,
        table_name: str,
        bucket: s3.IBucket,
        prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        if not _PREFIX_RE.fullmatch(prefix):
            raise ValueError(
                f"prefix: {prefix!r} is not allowed; expected path segments each ending with '/'"
            )
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Glue Data Quality evaluation of {database_name}.{table_name}",
        )
        objects = bucket.arn_for_objects(f"{prefix}*")
        # AWS's bucket of the data-quality engine (Glue's DQ troubleshooting guide: "The permissions
        # in the role passed to AWS Glue Data Quality must permit reading from" it).
        engine = f"arn:{cdk.Aws.PARTITION}:s3:::aws-glue-ml-data-quality-assets-{cdk.Aws.REGION}/*"
        log_groups = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws-glue/data-quality*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        statements = [
            iam.PolicyStatement(
                actions=["glue:GetTable", "glue:GetPartition", "glue:GetPartitions", "glue:GetDatabase"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database", resource_name=database_name),
                    # Glue's Spark session checks that the "default" database exists (DQ troubleshooting).
                    stack.format_arn(service="glue", resource="database", resource_name="default"),
                    stack.format_arn(
                        service="glue", resource="table", resource_name=f"{database_name}/{table_name}"
                    ),
                ],
            ),
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects, engine]),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            ),
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_groups],
            ),
            # The evaluation session reads its ruleset and run back, then publishes results.
            iam.PolicyStatement(
                actions=[
                    "glue:GetDataQualityRuleset",
                    "glue:GetDataQualityRulesetEvaluationRun",
                    "glue:GetDataQualityResult",
                    "glue:PublishDataQuality",
                ],
                resources=[policy_arn_rulesets(stack)],
            ),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],  # no resource ARNs; limited to the data-quality namespace
                conditions={"StringEquals": {"cloudwatch:namespace": "Glue Data Quality"}},
            ),
        ]
        if bucket.encryption_key is not None:
            statements.append(
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[bucket.encryption_key.key_arn])
            )
        policy = iam.ManagedPolicy(self, "Policy", statements=statements, roles=[self.role])
        findings = {
            f"Resource::{_nag_format(policy, objects)}": (
                "Data-quality evaluation reads every object of the evaluated table, and only that table."
            ),
            f"Resource::{_nag_format(policy, log_groups)}": (
                "Glue Data Quality writes to /aws-glue/data-quality* log groups."
            ),
            f"Resource::{_nag_format(policy, engine)}": (
                "Read-only access to AWS's regional bucket holding the Glue Data Quality engine, which every "
                "evaluation run downloads at launch; it holds no customer data."
            ),
            "Resource::*": "cloudwatch:PutMetricData has no resource ARNs; a condition limits its namespace.",
            f"Resource::{_nag_format(policy, policy_arn_rulesets(stack))}": (
                "Results are published per evaluation run; Glue authorizes PublishDataQuality on rulesets, "
                "whose run-time names the role cannot know in advance."
            ),
        }
        for finding, reason in findings.items():
            _acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)


def policy_arn_rulesets(stack: cdk.Stack) -> str:
    return stack.format_arn(service="glue", resource="dataQualityRuleset", resource_name="*")


class GlueFailureAlerts(Construct):
    """An EventBridge rule sending Glue job failures and crawler failures to an SNS topic.

    Example::

        import aws_cdk as cdk
        from aws_cdk import aws_sns as sns

        from etl import GlueFailureAlerts

        app = cdk.App()
        stack = cdk.Stack(app, "Alerts")
        alerts = sns.Topic(stack, "Alerts", enforce_ssl=True, master_key=None)
        GlueFailureAlerts(stack, "GlueAlerts", topic=alerts, job_names=["sales-dev-raw-to-processed"])
        app.synth()

    Args:
        topic: where the alerts go.
        job_names: jobs whose FAILED, TIMEOUT or ERROR runs alert.
        crawler_names: crawlers whose failed runs alert.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        job_names: Sequence[str],
        crawler_names: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if not job_names and not crawler_names:
            raise ValueError("job_names / crawler_names: at least one job or crawler is required")
        self.rules: list[events.Rule] = []
        if job_names:
            self.rules.append(
                events.Rule(
                    self,
                    "JobFailures",
                    description="Glue job runs that failed, timed out or errored",
                    event_pattern=events.EventPattern(
                        source=["aws.glue"],
                        detail_type=["Glue Job State Change"],
                        detail={"jobName": list(job_names), "state": ["FAILED", "TIMEOUT", "ERROR"]},
                    ),
                    targets=[
                        targets.SnsTopic(
                            topic,
                            message=events.RuleTargetInput.from_object(
                                {
                                    "alert": "Glue job run failed",
                                    "job": events.EventField.from_path("$.detail.jobName"),
                                    "state": events.EventField.from_path("$.detail.state"),
                                    "runId": events.EventField.from_path("$.detail.jobRunId"),
                                    "message": events.EventField.from_path("$.detail.message"),
                                    "account": events.EventField.account,
                                    "region": events.EventField.region,
                                    "time": events.EventField.time,
                                }
                            ),
                        )
                    ],
                )
            )
        if crawler_names:
            self.rules.append(
                events.Rule(
                    self,
                    "CrawlerFailures",
                    description="Glue crawler runs that failed",
                    event_pattern=events.EventPattern(
                        source=["aws.glue"],
                        detail_type=["Glue Crawler State Change"],
                        detail={"crawlerName": list(crawler_names), "state": ["Failed"]},
                    ),
                    targets=[
                        targets.SnsTopic(
                            topic,
                            message=events.RuleTargetInput.from_object(
                                {
                                    "alert": "Glue crawler run failed",
                                    "crawler": events.EventField.from_path("$.detail.crawlerName"),
                                    "message": events.EventField.from_path("$.detail.errorMessage"),
                                    "account": events.EventField.account,
                                    "region": events.EventField.region,
                                    "time": events.EventField.time,
                                }
                            ),
                        )
                    ],
                )
            )


def _by_bucket(pairs: Sequence[tuple[s3.IBucket, str]]) -> list[tuple[s3.IBucket, list[str]]]:
    grouped: dict[int, tuple[s3.IBucket, list[str]]] = {}
    for bucket, prefix in pairs:
        grouped.setdefault(id(bucket), (bucket, []))[1].append(prefix)
    return list(grouped.values())


def _validate(
    *,
    source_prefix: str,
    target_prefix: str,
    quarantine_prefix: str,
    source_consumed_prefix: str | None,
    number_of_workers: int,
    timeout: cdk.Duration,
    max_concurrent_runs: int,
    extra_arguments: Mapping[str, str],
) -> None:
    for option, prefix in (
        ("source_prefix", source_prefix),
        ("target_prefix", target_prefix),
        ("quarantine_prefix", quarantine_prefix),
        *([("source_consumed_prefix", source_consumed_prefix)] if source_consumed_prefix is not None else []),
    ):
        if not _PREFIX_RE.fullmatch(prefix):
            raise ValueError(
                f"{option}: {prefix!r} is not allowed; expected path segments of letters, digits or _-.= "
                "each ending with '/', e.g. 'events/'"
            )
    if quarantine_prefix.startswith(target_prefix) or target_prefix.startswith(quarantine_prefix):
        raise ValueError(
            f"quarantine_prefix: {quarantine_prefix!r} must not overlap target_prefix {target_prefix!r}, "
            "or rejected rows would be read as data"
        )
    if isinstance(number_of_workers, bool) or not 2 <= number_of_workers <= MAX_WORKERS:
        raise ValueError(
            f"number_of_workers: {number_of_workers!r} is not allowed; expected 2 to {MAX_WORKERS}"
        )
    minutes = timeout.to_minutes(integral=False)
    if not 1 <= minutes <= MAX_TIMEOUT_MINUTES:
        raise ValueError(
            f"timeout: {minutes:g} minutes is not allowed; expected 1 to {MAX_TIMEOUT_MINUTES} minutes"
        )
    if isinstance(max_concurrent_runs, bool) or not 1 <= max_concurrent_runs <= 1000:
        raise ValueError(f"max_concurrent_runs: {max_concurrent_runs!r} is not allowed; expected 1 to 1000")
    reserved = {
        "--source",
        "--target",
        "--quarantine",
        "--job-bookmark-option",
        "--catalog_database",
        "--catalog_table",
    }
    for name in extra_arguments:
        if name in reserved or not _ARG_RE.fullmatch(name):
            raise ValueError(
                f"extra_arguments: {name!r} is not allowed; expected '--name' not one of {sorted(reserved)}"
            )


def _acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def _nag_format(scope: IConstruct, value: object) -> str:
    """How cdk-nag renders a value in a finding (``<LogicalId.Arn>``, ``<AWS::Region>`` ...)."""
    resolved = cdk.Stack.of(scope).resolve(value)
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        logical_id, attribute = resolved["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return str(separator).join(_nag_format(scope, part) for part in parts)
    return str(resolved)
