"""The AWS service quotas and list prices capacity planning uses: one table for the configuration's
synth-time checks (stacks/config.py) and the planning script (benchmarks/capacity.py).

Each figure names its source page. ``confirmed`` is True where the figure was checked against a stored
copy of that page while writing this file; the others are the long-published defaults, written without
internet access: check them in the account before relying on them::

    aws service-quotas list-service-quotas --service-code firehose
    aws service-quotas list-service-quotas --service-code kinesis
    aws service-quotas get-service-quota --service-code lambda --quota-code L-B99A9384
    aws pricing get-products --service-code AmazonKinesisFirehose --region us-east-1

Quotas are per account and region unless stated; most can be raised through Service Quotas.
"""

from __future__ import annotations

from dataclasses import dataclass

# Regions where Firehose's Direct PUT defaults and Kinesis's larger defaults are the high ones.
LARGE_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


@dataclass(frozen=True)
class Quota:
    name: str
    value: float
    unit: str
    source: str
    confirmed: bool = False
    raisable_to: float | None = None  # the documented maximum on request, if any
    note: str = ""


FIREHOSE_DOCS = "docs.aws.amazon.com/firehose/latest/dev/limits.html"
KINESIS_DOCS = "docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html"
LAMBDA_DOCS = "docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"

FIREHOSE_ACTIVE_PARTITIONS = Quota(
    "Firehose active partitions per stream (dynamic partitioning)",
    500,
    "partitions",
    "docs.aws.amazon.com/firehose/latest/dev/buffering.html",
    confirmed=True,
    raisable_to=5000,
    note="records beyond it go to the error prefix activePartitionExceeded",
)


def firehose_direct_put(region: str | None) -> tuple[Quota, Quota, Quota]:
    """Records/s, requests/s and MiB/s per Direct PUT stream (unknown region: the smaller defaults)."""
    large = region in LARGE_REGIONS
    where = "us-east-1, us-west-2, eu-west-1" if large else "other regions"
    return (
        Quota(
            f"Firehose Direct PUT records/s per stream ({where})",
            500_000 if large else 100_000,
            "records/s",
            FIREHOSE_DOCS,
        ),
        Quota(
            f"Firehose Direct PUT requests/s per stream ({where})",
            2_000 if large else 1_000,
            "requests/s",
            FIREHOSE_DOCS,
        ),
        Quota(
            f"Firehose Direct PUT throughput per stream ({where})", 5 if large else 1, "MiB/s", FIREHOSE_DOCS
        ),
    )


KINESIS_SHARD_WRITE_MIB = Quota("Kinesis shard write", 1, "MiB/s", KINESIS_DOCS)
KINESIS_SHARD_WRITE_RECORDS = Quota("Kinesis shard write", 1000, "records/s", KINESIS_DOCS)
KINESIS_ON_DEMAND_WRITE_MIB = Quota(
    "Kinesis on-demand stream write (default maximum)",
    200,
    "MiB/s",
    KINESIS_DOCS,
    raisable_to=10_240,
    note="10 GiB/s on request in the large regions",
)
KINESIS_ON_DEMAND_WRITE_RECORDS = Quota(
    "Kinesis on-demand stream write (default maximum)", 200_000, "records/s", KINESIS_DOCS
)
KINESIS_SHARDS_PER_REGION = Quota(
    "Kinesis shards per account (large regions; 200 elsewhere)", 500, "shards", KINESIS_DOCS, raisable_to=None
)
LAMBDA_CONCURRENCY = Quota("Lambda concurrent executions per account", 1000, "executions", LAMBDA_DOCS)
LAMBDA_PAYLOAD_MIB = Quota("Lambda synchronous payload", 6, "MiB", LAMBDA_DOCS, confirmed=True)
FIREHOSE_LAMBDA_BUFFER_MIB = Quota(
    "Firehose record-transformation buffer (Lambda payload per invocation, maximum)", 3, "MiB", FIREHOSE_DOCS
)
GLUE_PARTITIONS_PER_TABLE = Quota(
    "Glue Data Catalog partitions per table",
    10_000_000,
    "partitions",
    "docs.aws.amazon.com/general/latest/gr/glue.html",
)
GLUE_BATCH_CREATE_PARTITION = Quota(
    "Glue BatchCreatePartition entries per call",
    100,
    "partitions",
    "botocore glue model: PartitionInputList max 100",
    confirmed=True,
)
S3_PUT_PER_PREFIX = Quota(
    "S3 PUT/COPY/POST/DELETE per partitioned prefix",
    3500,
    "requests/s",
    "docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html",
)
ATHENA_DML_CONCURRENCY = Quota(
    "Athena active DML queries (us-east-1 default)",
    200,
    "queries",
    "docs.aws.amazon.com/athena/latest/ug/service-limits.html",
)
REDSHIFT_SERVERLESS_MAX_RPU = Quota(
    "Redshift Serverless base capacity (maximum)",
    512,
    "RPUs",
    "docs.aws.amazon.com/redshift/latest/mgmt/serverless-capacity.html",
)


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str


# us-east-1 on-demand list prices as published on the service's pricing page; not confirmed online here.
PRICES = {
    "firehose_ingest_gb": Price(
        0.029, "GB ingested, each record rounded up to 5 KB", "aws.amazon.com/firehose/pricing"
    ),
    "firehose_partitioning_gb": Price(
        0.020, "GB processed by dynamic partitioning", "aws.amazon.com/firehose/pricing"
    ),
    "firehose_objects": Price(
        0.005, "1,000 S3 objects delivered by dynamic partitioning", "aws.amazon.com/firehose/pricing"
    ),
    "kinesis_on_demand_stream_hour": Price(
        0.04, "stream-hour (on-demand)", "aws.amazon.com/kinesis/data-streams/pricing"
    ),
    "kinesis_on_demand_in_gb": Price(
        0.08, "GB written (on-demand)", "aws.amazon.com/kinesis/data-streams/pricing"
    ),
    "kinesis_on_demand_out_gb": Price(
        0.04, "GB read (on-demand)", "aws.amazon.com/kinesis/data-streams/pricing"
    ),
    "kinesis_shard_hour": Price(
        0.015, "shard-hour (provisioned)", "aws.amazon.com/kinesis/data-streams/pricing"
    ),
    "kinesis_put_units": Price(
        0.014, "million 25 KB PUT payload units (provisioned)", "aws.amazon.com/kinesis/data-streams/pricing"
    ),
    "lambda_gb_second": Price(0.0000166667, "GB-second (x86)", "aws.amazon.com/lambda/pricing"),
    "lambda_requests": Price(0.20, "million requests", "aws.amazon.com/lambda/pricing"),
    "glue_dpu_hour": Price(0.44, "DPU-hour (Spark jobs, 1-minute minimum)", "aws.amazon.com/glue/pricing"),
    "s3_standard_gb_month": Price(0.023, "GB-month (first 50 TB, S3 Standard)", "aws.amazon.com/s3/pricing"),
    "s3_put_requests": Price(0.005, "1,000 PUT/COPY/POST/LIST requests", "aws.amazon.com/s3/pricing"),
    "athena_tb_scanned": Price(5.00, "TB scanned (10 MB minimum per query)", "aws.amazon.com/athena/pricing"),
    "redshift_rpu_hour": Price(0.375, "RPU-hour (Serverless)", "aws.amazon.com/redshift/pricing"),
}

FIREHOSE_BILLING_RECORD_KB = 5  # Firehose bills ingestion in 5 KB increments per record


def active_partitions(event_types: int) -> int:
    """The most active Firehose partitions the raw layout makes: one per event type and arrival day,
    and around midnight a buffer holds two arrival days."""
    return event_types * 2
