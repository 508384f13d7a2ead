"""The data-lake storage zones of one environment."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from datalake_constructs.storage import DataLakeStorage, ZoneLifecycle, zone_bucket_name
from stacks.base import PlatformStack
from stacks.config import PlatformConfig, ZoneLifecycleConfig


def _lifecycle(zone: ZoneLifecycleConfig) -> ZoneLifecycle:
    def days(value: int | None) -> cdk.Duration | None:
        return cdk.Duration.days(value) if value is not None else None

    return ZoneLifecycle(
        infrequent_access_after=days(zone.infrequent_access_after_days),
        glacier_after=days(zone.glacier_after_days),
        expire_after=days(zone.expire_after_days),
    )


# The serving stack's Athena results bucket logs its access into this stack's access-log bucket.
ATHENA_RESULTS_BUCKET = "athena-results"
ATHENA_LOGS_PREFIX = "athena-results/"


class StorageStack(PlatformStack):
    """Raw, processed and consumer zones with their key and access-log bucket."""

    def __init__(self, scope: Construct, *, config: PlatformConfig) -> None:
        super().__init__(scope, config=config, component="storage", description="data-lake storage zones")
        storage = config.storage
        self.storage = DataLakeStorage(
            self,
            "DataLake",
            bucket_name_prefix=config.name_prefix,
            encryption_key=self.shared_key,
            raw_lifecycle=_lifecycle(storage.raw),
            processed_lifecycle=_lifecycle(storage.processed),
            consumer_lifecycle=_lifecycle(storage.consumer),
            noncurrent_version_expiry=cdk.Duration.days(storage.noncurrent_version_expiry_days),
            abort_incomplete_multipart_upload_after=cdk.Duration.days(
                storage.abort_incomplete_multipart_upload_days
            ),
            access_log_retention=cdk.Duration.days(storage.access_log_retention_days),
            removal_policy=config.removal_policy,
            auto_delete_objects=config.allow_destroy,
        )
        # The serving stack's Athena results bucket logs here; it cannot add itself to this policy.
        self.storage.allow_access_logs_from(
            zone_bucket_name(config.name_prefix, ATHENA_RESULTS_BUCKET),
            ATHENA_LOGS_PREFIX,
            sid="AthenaResultsAccessLogs",
        )
