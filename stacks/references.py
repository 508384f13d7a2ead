"""References between stacks that avoid CloudFormation exports where a deterministic name exists.

A cross-stack reference to a bucket ARN becomes an export/import pair: it pins the storage stack (the
export cannot change while imported) and makes IAM findings name an opaque stack output. Zone buckets
have names derived from the configuration, so other stacks import them by name instead.
"""

from __future__ import annotations

from aws_cdk import aws_s3 as s3
from constructs import Construct

from datalake_constructs.storage import DataLakeStorage, DataLakeZone, zone_bucket_name
from stacks.config import PlatformConfig


def zone_bucket(
    scope: Construct, config: PlatformConfig, storage: DataLakeStorage, zone: DataLakeZone
) -> s3.IBucket:
    """The zone's bucket, imported by name into ``scope``'s stack, with the zone key for grants."""
    return s3.Bucket.from_bucket_attributes(
        scope,
        f"{zone.value.capitalize()}Bucket",
        bucket_name=zone_bucket_name(config.name_prefix, zone),
        encryption_key=storage.encryption_key,
    )
