"""Kinesis Data Streams: the stream a Firehose reads from (prod), with shards and sequence numbers.

``PutRecords`` requests are validated against the SDK model and Kinesis's limits (500 records, 1 MiB per
record including its partition key, 10 MiB per request:
https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html). Records go to the shard
owning the MD5 hash of their partition key, as Kinesis assigns them; an on-demand stream starts with 4
shards. A consumer (Firehose) reads with its source role, which needs ``kinesis:DescribeStream``,
``GetShardIterator``, ``GetRecords`` and ``ListShards`` on the stream, and ``kms:Decrypt`` on a
customer-managed stream key (https://docs.aws.amazon.com/streams/latest/dev/permissions-user-key-KMS.html).
Producers are outside the app: their permissions are not checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from local_twin.assembly import CloudAssembly, Resource
from local_twin.iam import PolicyEngine
from local_twin.models import InvalidRequest, ServiceApi

MAX_RECORD_BYTES = 1024 * 1024
MAX_RECORDS_PER_REQUEST = 500
MAX_REQUEST_BYTES = 10 * 1024 * 1024
ON_DEMAND_INITIAL_SHARDS = 4
_HASH_SPACE = 2**128


@dataclass(frozen=True)
class KinesisRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: datetime


@dataclass
class Stream:
    resource: Resource
    name: str
    arn: str
    shards: int
    kms_key: str | None
    records: list[KinesisRecord] = field(default_factory=list)
    _sequence: int = 0

    def shard_for(self, partition_key: str) -> str:
        digest = int(hashlib.md5(partition_key.encode(), usedforsecurity=False).hexdigest(), 16)
        return f"shardId-{digest * self.shards // _HASH_SPACE:012d}"


@dataclass
class Kinesis:
    assembly: CloudAssembly
    iam: PolicyEngine
    api: ServiceApi = field(default_factory=lambda: ServiceApi("kinesis"))

    def __post_init__(self) -> None:
        self.streams: dict[str, Stream] = {}
        for resource in self.assembly.resources("AWS::Kinesis::Stream"):
            props = resource.properties
            mode = props.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
            encryption = props.get("StreamEncryption", {})
            self.streams[resource.arn] = Stream(
                resource=resource,
                name=resource.name,
                arn=resource.arn,
                shards=ON_DEMAND_INITIAL_SHARDS if mode == "ON_DEMAND" else int(props.get("ShardCount", 1)),
                kms_key=str(encryption["KeyId"]) if encryption.get("EncryptionType") == "KMS" else None,
            )

    def stream(self, arn: str) -> Stream:
        if arn not in self.streams:
            raise InvalidRequest(f"ResourceNotFoundException: stream {arn} is not in the cloud assembly")
        return self.streams[arn]

    def put_records(
        self, stream_arn: str, records: list[tuple[bytes, str]], arrival: datetime
    ) -> list[KinesisRecord]:
        """A producer's PutRecords of (data, partition key) pairs, all arriving at ``arrival``."""
        stream = self.stream(stream_arn)
        request = {
            "StreamARN": stream_arn,
            "Records": [{"Data": data, "PartitionKey": key} for data, key in records],
        }
        self.api.validate("PutRecords", request)
        if not 1 <= len(records) <= MAX_RECORDS_PER_REQUEST:
            raise InvalidRequest(
                f"ValidationException: PutRecords takes 1 to {MAX_RECORDS_PER_REQUEST} records"
            )
        total = 0
        for data, key in records:
            size = len(data) + len(key.encode())
            total += size
            if size > MAX_RECORD_BYTES:
                raise InvalidRequest(f"ValidationException: a record of {size} bytes exceeds 1 MiB")
        if total > MAX_REQUEST_BYTES:
            raise InvalidRequest(
                f"InvalidArgumentException: PutRecords request of {total} bytes exceeds 10 MiB"
            )
        written = []
        for data, key in records:
            stream._sequence += 1
            record = KinesisRecord(stream.shard_for(key), f"{stream._sequence:056d}", key, data, arrival)
            stream.records.append(record)
            written.append(record)
        return written

    def read_all(self, consumer_role: str, stream_arn: str, *, purpose: str) -> list[KinesisRecord]:
        """Everything not yet read, as a consumer polling each shard would get it (in arrival order)."""
        stream = self.stream(stream_arn)
        for action in (
            "kinesis:DescribeStream",
            "kinesis:ListShards",
            "kinesis:GetShardIterator",
            "kinesis:GetRecords",
        ):
            self.iam.require(consumer_role, action, stream.arn, purpose=purpose)
        if stream.kms_key is not None:
            env = self.assembly.env
            self.iam.require(
                consumer_role,
                "kms:Decrypt",
                stream.kms_key,
                context={
                    "kms:ViaService": f"kinesis.{env.region}.{env.url_suffix}",
                    "kms:EncryptionContext:aws:kinesis:arn": stream.arn,
                },
                purpose=purpose,
            )
        records, stream.records = stream.records, []
        return records
