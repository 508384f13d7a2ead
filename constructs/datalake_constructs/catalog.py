"""Glue Data Catalog for the data lake: a database and a crawler per zone, encrypted and least-privilege.

Depends only on aws-cdk-lib, ``constructs`` and the standard library: copy this one file into your app.
Requires Python >= 3.11 and aws-cdk-lib >= 2.275.0: the versions it is tested with, its example
run alone in fresh apps (tests/copy_paste). Import it by its file name: ``from catalog import ...``.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,254}$")
_PREFIX_RE = re.compile(r"^([a-zA-Z0-9_\-.=]+/)*$")
_CRON_RE = re.compile(r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")
# Paths no crawler should turn into tables: Firehose's failed records, and files and folders starting
# with "_", hidden by the Hive/Spark convention (quarantined rows, jobs' markers, Spark's _temporary and
# _SUCCESS). Written for glob semantics where "**/" needs at least one folder (Java's glob), so the top
# level has patterns of its own ("_*" is Spark's _SUCCESS next to the partitions).
DEFAULT_EXCLUSIONS = ("errors/**", "_*", "_*/**", "**/_*", "**/_*/**", "**/*.crc")


class CrawlerTrigger(enum.StrEnum):
    """How a crawler is started."""

    ON_DEMAND = "on_demand"  # by the pipeline (Step Functions), the default
    SCHEDULE = "schedule"  # on a cron schedule
    # No crawler: the zone's tables are defined in the app and their writers register the partitions
    # they write (the platform's own zones). Crawlers are for data whose schema the app does not own.
    NONE = "none"
    # Incrementally, from the bucket's EventBridge object events (the bucket must send events to
    # EventBridge), reshaped into S3 notification messages on an SQS queue. Not yet verified against
    # a real crawler: Glue documents S3 notifications sent to SQS (or SNS -> SQS), not EventBridge.
    S3_EVENTS = "s3_events"


@dataclass(frozen=True)
class ZoneCatalogSource:
    """What one zone's crawler reads.

    Args:
        bucket: the zone bucket.
        prefixes: prefixes to crawl, each a table root, ending with ``/``. Default: ``("",)`` (the bucket).
            ``S3_EVENTS`` needs exactly one non-empty prefix (Glue's event mode: one folder target).
        exclusions: glob patterns to skip. Default: ``DEFAULT_EXCLUSIONS``.
        trigger: Default: ON_DEMAND.
        schedule: cron expression for ``SCHEDULE``, e.g. ``cron(15 * * * ? *)``.
        new_folders_only: crawl only folders added since the last crawl, and log schema changes
            instead of applying them: a crawl's time stays flat as the zone grows. Only the first
            crawl creates tables: if it finds no data, later crawls never add the table. So use it
            where data is there before the first crawl and the schema is stable. Default: True for
            ``SCHEDULE``, False for ``ON_DEMAND``; ``S3_EVENTS`` crawls what the events name.
    """

    bucket: s3.IBucket
    prefixes: Sequence[str] = ("",)
    exclusions: Sequence[str] = field(default=DEFAULT_EXCLUSIONS)
    trigger: CrawlerTrigger = CrawlerTrigger.ON_DEMAND
    schedule: str | None = None
    new_folders_only: bool | None = None

    @property
    def recrawl_behavior(self) -> str:
        if self.trigger == CrawlerTrigger.S3_EVENTS:
            return "CRAWL_EVENT_MODE"
        incremental = (
            self.new_folders_only
            if self.new_folders_only is not None
            else self.trigger == CrawlerTrigger.SCHEDULE
        )
        return "CRAWL_NEW_FOLDERS_ONLY" if incremental else "CRAWL_EVERYTHING"


class DataLakeCatalog(Construct):
    """A Glue database per zone and, where a zone's schema is not the app's own, a crawler; one
    KMS-encrypting security configuration for crawlers and jobs.

    A zone whose tables the app defines (with their writers registering the partitions they write)
    takes ``trigger=CrawlerTrigger.NONE``: a database and no crawler, so a run's cost does not grow with
    the zone's history. Crawlers suit data the app does not shape: files dropped by partners, say.

    Each crawler has its own role that may read only its bucket prefixes, decrypt with the data key,
    write only its own database and its own encrypted logs. Full crawls apply schema changes to the
    catalog; incremental ones (``new_folders_only``, the default for scheduled crawlers) add new
    folders and log schema changes; deletions are only logged (tables are never dropped by a
    crawler); event-mode crawlers consume the bucket's EventBridge object events from an encrypted
    SQS queue.

    Example::

        import aws_cdk as cdk
        from aws_cdk import aws_kms as kms
        from aws_cdk import aws_s3 as s3

        from catalog import CrawlerTrigger, DataLakeCatalog, ZoneCatalogSource

        app = cdk.App()
        stack = cdk.Stack(app, "Catalog")
        data_key = kms.Key(stack, "DataKey", enable_key_rotation=True)
        partner_drops = s3.Bucket(
            stack, "PartnerDrops",
            encryption=s3.BucketEncryption.KMS, encryption_key=data_key, enforce_ssl=True,
        )
        catalog = DataLakeCatalog(
            stack, "Catalog",
            database_prefix="sales_dev",
            encryption_key=kms.Key(stack, "GlueKey", enable_key_rotation=True),
            data_key=data_key,
            zones={
                # A crawled zone: files whose schema the app does not own.
                "partner": ZoneCatalogSource(bucket=partner_drops, prefixes=["orders/"]),
                # A zone whose tables the app defines (glue.S3Table): a database, no crawler.
                "processed": ZoneCatalogSource(bucket=partner_drops, trigger=CrawlerTrigger.NONE),
            },
        )
        print(catalog.crawler_name("partner"))  # sales-dev-partner-crawler
        app.synth()

    Args:
        zones: zone name (lowercase, e.g. ``raw``) to what its crawler reads.
        database_prefix: databases are named ``<prefix>_<zone>``.
        encryption_key: KMS key for crawler/job logs and job bookmarks (the security configuration).
        data_key: KMS key the zone buckets are encrypted with, for reading. Default: none (SSE-S3).
        security_configuration_name: Default: ``<database_prefix>-glue``.
        removal_policy: of databases (tables are metadata: retained by default). Default: RETAIN.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        zones: Mapping[str, ZoneCatalogSource],
        database_prefix: str,
        encryption_key: kms.IKey,
        data_key: kms.IKey | None = None,
        security_configuration_name: str | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(zones, database_prefix)
        self.encryption_key = encryption_key
        self.data_key = data_key
        self.security_configuration = glue.SecurityConfiguration(
            self,
            "SecurityConfiguration",
            security_configuration_name=(
                security_configuration_name
                if security_configuration_name is not None
                else f"{database_prefix.replace('_', '-')}-glue"
            ),
            cloud_watch_encryption=glue.CloudWatchEncryption.kms(encryption_key),
            job_bookmarks_encryption=glue.JobBookmarksEncryption.client_side_kms(encryption_key),
            s3_encryption=glue.S3Encryption.kms(data_key)
            if data_key is not None
            else glue.S3Encryption.s3_managed(),
        )
        # CloudWatch Logs encrypts Glue's logs with this key.
        _allow_cloudwatch_logs(encryption_key)

        self.databases: dict[str, glue.Database] = {}
        self.crawlers: dict[str, glue.CfnCrawler] = {}
        self.crawler_roles: dict[str, iam.Role] = {}
        self.event_queues: dict[str, sqs.Queue] = {}
        for zone, source in zones.items():
            database = glue.Database(
                self,
                f"{zone.capitalize()}Database",
                database_name=f"{database_prefix}_{zone}",
                description=f"{zone} zone of the data lake",
                removal_policy=removal_policy,
            )
            self.databases[zone] = database
            if source.trigger != CrawlerTrigger.NONE:
                self._crawler(zone, source, database, f"{database_prefix}_{zone}")

    def crawler_name(self, zone: str) -> str:
        """Physical name of a zone's crawler (for StartCrawler / GetCrawler)."""
        if zone not in self.crawlers:
            raise ValueError(f"zone {zone!r} has no crawler (trigger NONE, or not a zone of this catalog)")
        name = self.crawlers[zone].name
        assert name is not None
        return name

    def crawler_arn(self, zone: str) -> str:
        stack = cdk.Stack.of(self)
        return stack.format_arn(service="glue", resource="crawler", resource_name=self.crawler_name(zone))

    # --- internals ---

    def _crawler(
        self, zone: str, source: ZoneCatalogSource, database: glue.Database, database_name: str
    ) -> None:
        role = iam.Role(
            self,
            f"{zone.capitalize()}CrawlerRole",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Glue crawler of the {zone} zone",
        )
        self.crawler_roles[zone] = role
        queue = self._event_queue(zone, source) if source.trigger == CrawlerTrigger.S3_EVENTS else None
        policy = self._grant_crawler(role, zone, source, database, queue)
        s3_targets = [
            glue.CfnCrawler.S3TargetProperty(
                path=f"s3://{source.bucket.bucket_name}/{prefix}",
                exclusions=list(source.exclusions),
                event_queue_arn=queue.queue_arn if queue is not None else None,
            )
            for prefix in source.prefixes
        ]
        # Crawlers have no L2 in aws-cdk-lib: L1 CfnCrawler.
        crawler = glue.CfnCrawler(
            self,
            f"{zone.capitalize()}Crawler",
            name=f"{database_name}-crawler".replace("_", "-"),
            role=role.role_arn,
            database_name=database.database_name,
            targets=glue.CfnCrawler.TargetsProperty(s3_targets=s3_targets),
            crawler_security_configuration=self.security_configuration.security_configuration_name,
            schedule=(
                glue.CfnCrawler.ScheduleProperty(schedule_expression=source.schedule)
                if source.trigger == CrawlerTrigger.SCHEDULE
                else None
            ),
            recrawl_policy=glue.CfnCrawler.RecrawlPolicyProperty(recrawl_behavior=source.recrawl_behavior),
            # Incremental crawls may only log schema changes; full crawls keep the catalog current.
            # Deletions are never applied: a missing folder must not drop a table.
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior=(
                    "UPDATE_IN_DATABASE" if source.recrawl_behavior == "CRAWL_EVERYTHING" else "LOG"
                ),
                delete_behavior="LOG",
            ),
            configuration=json.dumps(
                {
                    "Version": 1.0,
                    "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
                    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
                },
                separators=(",", ":"),
            ),
        )
        # Glue checks the role's access (e.g. to the event queue) when the crawler is created.
        crawler.node.add_dependency(policy)
        self.crawlers[zone] = crawler

    def _grant_crawler(
        self,
        role: iam.Role,
        zone: str,
        source: ZoneCatalogSource,
        database: glue.Database,
        queue: sqs.Queue | None,
    ) -> iam.ManagedPolicy:
        """One managed policy with exact actions (no key/queue grant helpers, whose action wildcards
        and inline policies the compliance packs reject)."""
        stack = cdk.Stack.of(self)
        bucket = source.bucket
        object_arns = [bucket.arn_for_objects(f"{prefix}*") for prefix in source.prefixes]
        table_arn = stack.format_arn(
            service="glue", resource="table", resource_name=f"{database.database_name}/*"
        )
        log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws-glue/crawlers*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        statements = [
            iam.PolicyStatement(actions=["s3:GetObject"], resources=object_arns),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in source.prefixes]}},
            ),
            iam.PolicyStatement(
                actions=[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:BatchGetPartition",
                    "glue:CreatePartition",
                    "glue:BatchCreatePartition",
                    "glue:UpdatePartition",
                    "glue:BatchUpdatePartition",
                ],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    database.database_arn,
                    table_arn,
                ],
            ),
            iam.PolicyStatement(
                actions=["glue:GetSecurityConfiguration"],
                resources=["*"],  # Glue security configurations have no ARN to scope to
            ),
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:AssociateKmsKey",
                ],
                resources=[log_group_arn],
            ),
            # Encrypts its logs with the security-configuration key.
            iam.PolicyStatement(
                actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self.encryption_key.key_arn],
            ),
        ]
        if self.data_key is not None:
            statements.append(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.data_key.key_arn]))
        if queue is not None:
            dead_letters = queue.dead_letter_queue
            assert dead_letters is not None
            statements.append(
                iam.PolicyStatement(
                    # What an event-mode crawler does with its queue, per the Glue documentation.
                    actions=[
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueUrl",
                        "sqs:GetQueueAttributes",
                        "sqs:SetQueueAttributes",
                        "sqs:ListDeadLetterSourceQueues",
                        "sqs:ListQueueTags",
                        "sqs:PurgeQueue",
                    ],
                    resources=[queue.queue_arn, dead_letters.queue.queue_arn],
                )
            )
        policy = iam.ManagedPolicy(
            self, f"{zone.capitalize()}CrawlerPolicy", statements=statements, roles=[role]
        )

        findings = {
            f"Resource::{_nag_format(policy, a)}": (
                "The crawler samples every object under its zone's table roots and nothing else in the "
                "bucket."
            )
            for a in object_arns
        }
        findings[f"Resource::{_nag_format(policy, table_arn)}"] = (
            "The crawler creates and updates the tables it discovers; the wildcard is confined to its "
            "own database."
        )
        findings["Resource::*"] = "glue:GetSecurityConfiguration has no resource-level permissions."
        findings[f"Resource::{_nag_format(policy, log_group_arn)}"] = (
            "Glue names crawler log groups /aws-glue/crawlers and /aws-glue/crawlers-role/<role>-<config> "
            "when logs are KMS-encrypted; the wildcard covers exactly those."
        )
        for finding, reason in findings.items():
            _acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
        return policy

    def _event_queue(self, zone: str, source: ZoneCatalogSource) -> sqs.Queue:
        """S3 object events (via EventBridge) queued for an event-mode crawler."""
        dead_letters = sqs.Queue(
            self,
            f"{zone.capitalize()}CrawlerEventsDlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.encryption_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        queue = sqs.Queue(
            self,
            f"{zone.capitalize()}CrawlerEvents",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.encryption_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=5),
        )
        _acknowledge(
            dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the crawler's event queue.",
        )
        events.Rule(
            self,
            f"{zone.capitalize()}ObjectCreated",
            description=f"New objects in the {zone} zone, for its event-mode crawler",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [source.bucket.bucket_name]},
                    "object": {"key": [{"prefix": source.prefixes[0]}]},  # one folder (see _validate)
                },
            ),
            # Glue's event mode reads S3 event-notification messages: reshape the EventBridge event into
            # one. (EventBridge keys are not URL-encoded as notification keys are; our prefixes and
            # Firehose object names hold no characters where that differs, e.g. '+' or spaces.)
            targets=[targets.SqsQueue(queue, message=_as_s3_notification())],
        )
        # EventBridge needs the key to put messages on the encrypted queue.
        self.encryption_key.grant_encrypt_decrypt(iam.ServicePrincipal("events.amazonaws.com"))
        self.event_queues[zone] = queue
        return queue


def _as_s3_notification() -> events.RuleTargetInput:
    return events.RuleTargetInput.from_object(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": events.EventField.region,
                    "eventTime": events.EventField.time,
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": events.EventField.from_path("$.detail.bucket.name")},
                        "object": {
                            "key": events.EventField.from_path("$.detail.object.key"),
                            "size": events.EventField.from_path("$.detail.object.size"),
                        },
                    },
                }
            ]
        }
    )


def _validate(zones: Mapping[str, ZoneCatalogSource], database_prefix: str) -> None:
    if not _NAME_RE.fullmatch(database_prefix) or len(database_prefix) > 200:
        raise ValueError(
            f"database_prefix: {database_prefix!r} is not allowed; expected lowercase letters, digits or _ "
            "starting with a letter (Athena and Glue names)"
        )
    if not zones:
        raise ValueError("zones: at least one zone is required")
    for zone, source in zones.items():
        if not _NAME_RE.fullmatch(zone) or len(zone) > 32:
            raise ValueError(
                f"zones: zone name {zone!r} is not allowed; expected lowercase letters, digits or _"
            )
        if not source.prefixes:
            raise ValueError(f"zones[{zone!r}].prefixes: at least one prefix is required ('' for the bucket)")
        for prefix in source.prefixes:
            if not _PREFIX_RE.fullmatch(prefix):
                raise ValueError(
                    f"zones[{zone!r}].prefixes: {prefix!r} is not allowed; expected '' or path segments "
                    "each ending with '/'"
                )
        if source.trigger == CrawlerTrigger.SCHEDULE:
            if source.schedule is None or not _CRON_RE.fullmatch(source.schedule):
                raise ValueError(
                    f"zones[{zone!r}].schedule: {source.schedule!r} is not allowed with trigger=SCHEDULE; "
                    "expected a Glue cron expression such as 'cron(15 * * * ? *)'"
                )
        elif source.schedule is not None:
            raise ValueError(f"zones[{zone!r}].schedule: only allowed with trigger=SCHEDULE")
        if source.trigger == CrawlerTrigger.S3_EVENTS and source.new_folders_only is not None:
            raise ValueError(
                f"zones[{zone!r}].new_folders_only: not allowed with trigger=S3_EVENTS (an event-mode "
                "crawler crawls the folders its events name)"
            )
        # Glue's event mode takes a single S3 target, and that target must be a folder.
        one_folder = len(source.prefixes) == 1 and source.prefixes[0] != ""
        if source.trigger == CrawlerTrigger.S3_EVENTS and not one_folder:
            raise ValueError(
                f"zones[{zone!r}].prefixes: {list(source.prefixes)!r} is not allowed with trigger=S3_EVENTS; "
                "expected exactly one non-empty prefix (an event-mode crawler has one folder target)"
            )


def _allow_cloudwatch_logs(key: kms.IKey) -> None:
    """Let CloudWatch Logs use ``key``, for this account's log groups only (no confused deputy)."""
    stack = cdk.Stack.of(key)
    log_groups = stack.format_arn(
        service="logs", resource="log-group", resource_name="*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
    )
    added = key.add_to_resource_policy(
        iam.PolicyStatement(
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}")],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        )
    )
    if not added.statement_added:  # an imported key: its policy is not this app's to change
        cdk.Annotations.of(key).add_warning_v2(
            "datalake:KeyPolicyNotUpdated",
            "This key's policy cannot be changed here: let the CloudWatch Logs service principal "
            "use it for this account's log groups in the key policy, or creating the log group fails.",
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
