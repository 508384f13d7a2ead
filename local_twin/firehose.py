"""Amazon Data Firehose: batches records, runs the transform Lambda, delivers objects as Firehose does.

From the synthesized ``AWS::KinesisFirehose::DeliveryStream`` (Direct PUT or a Kinesis source):

* **Intake.** Direct PUT: ``PutRecordBatch`` requests validated against the SDK model and Firehose's
  limits (500 records, 1,000 KiB per record, 4 MiB per request; an oversized record fails the request
  with ``ValidationException``). Kinesis source: records are read from the stream with the source role.
* **Transformation.** Records are buffered for the Lambda processor by ``BufferSizeInMBs`` (default 1 MB)
  and ``BufferIntervalInSeconds`` (default 60 s) and sent in Firehose's event shape
  (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html). Every record must come back
  once with ``Ok``, ``Dropped`` or ``ProcessingFailed``; a failed invocation is retried
  ``NumberOfRetries`` times (default 3) and then fails its records.
* **Delivery.** ``Ok`` records are buffered per partition (the Lambda's ``partitionKeys``; "a new buffer
  is created for each active partition") and written once the partition's buffer reaches the destination's
  ``SizeInMBs`` or ``IntervalInSeconds``, under ``Prefix`` with its ``!{partitionKeyFromLambda:..}``,
  ``!{partitionKeyFromQuery:..}`` and ``!{timestamp:..}`` expressions rendered (the timestamp is the
  approximate arrival time of the oldest record in the object, UTC:
  https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html), named
  ``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>`` plus ``.gz`` with GZIP
  (https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html), encrypted with the configured key.
* **Errors.** ``ProcessingFailed`` records go under ``ErrorOutputPrefix`` with
  ``!{firehose:error-output-type}`` = ``processing-failed``, one JSON document per line with
  ``attemptsMade``, ``arrivalTimestamp``, ``errorCode`` (``Lambda.ProcessingFailedStatus``),
  ``errorMessage``, ``attemptEndingTimestamp``, ``rawData`` and ``lambdaArn``; a record without the
  partition keys the prefix needs goes under ``partitioning-failed``. Error objects use the stream's
  compression too.

Firehose's role is checked for everything it does: invoking the processor, writing the bucket (and the
KMS key), reading the source stream.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local_twin.assembly import CloudAssembly, Resource
from local_twin.iam import PolicyEngine
from local_twin.kinesis import Kinesis
from local_twin.lambda_ import InvocationError, LambdaService
from local_twin.models import InvalidRequest, ServiceApi
from local_twin.s3 import S3, S3Object

MAX_RECORD_BYTES = 1_024_000  # 1,000 KiB before base64
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MIB = 1024 * 1024
_EXPRESSION = re.compile(r"!\{([^}]+)\}")
_JAVA_DATE = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))


class DeliveryError(Exception):
    """Something Firehose itself would refuse (a bad configuration, an unknown expression)."""


@dataclass
class Record:
    data: bytes
    arrival: datetime
    record_id: str = ""
    kinesis: dict[str, Any] | None = None


@dataclass
class _Buffer:
    records: list[tuple[bytes, datetime]] = field(default_factory=list)
    size: int = 0

    @property
    def oldest(self) -> datetime:
        return min(arrival for _, arrival in self.records)


@dataclass
class Stats:
    records_in: int = 0
    ok: int = 0
    dropped: int = 0
    failed: int = 0
    partitioning_failed: int = 0
    invocations: int = 0
    objects: int = 0
    error_objects: int = 0
    failures_by_reason: dict[str, int] = field(default_factory=dict)


def render_timestamp(pattern: str, moment: datetime) -> str:
    """A Java DateTimeFormatter pattern (the letters Firehose prefixes use) in UTC."""
    text = pattern
    for java, python in _JAVA_DATE:
        text = text.replace(java, python)
    if re.search(r"[A-Za-z]", re.sub(r"%[YmdHMS]", "", text)):
        raise DeliveryError(f"timestamp pattern {pattern!r} uses letters the twin does not render")
    return moment.astimezone(UTC).strftime(text)


@dataclass
class DeliveryStream:
    """One synthesized delivery stream and its buffers."""

    resource: Resource
    s3: S3
    lambdas: LambdaService
    kinesis: Kinesis
    iam: PolicyEngine
    api: ServiceApi = field(default_factory=lambda: ServiceApi("firehose"))
    stats: Stats = field(default_factory=Stats)
    written: list[S3Object] = field(default_factory=list)

    def __post_init__(self) -> None:
        props = self.resource.properties
        self.name = self.resource.name
        self.arn = self.resource.arn
        destination = props.get("ExtendedS3DestinationConfiguration")
        if destination is None:
            raise DeliveryError(f"{self.resource.path}: only extended S3 destinations are run by the twin")
        self.bucket = str(destination["BucketARN"]).split(":::", 1)[1]
        self.role = str(destination["RoleARN"])
        self.prefix = str(destination.get("Prefix", ""))
        self.error_prefix = str(destination.get("ErrorOutputPrefix", ""))
        hints = destination.get("BufferingHints", {})
        self.interval = timedelta(seconds=int(hints.get("IntervalInSeconds", 300)))
        self.size_limit = int(hints.get("SizeInMBs", 5)) * MIB
        self.compression = str(destination.get("CompressionFormat", "UNCOMPRESSED"))
        if self.compression not in ("GZIP", "UNCOMPRESSED"):
            raise DeliveryError(
                f"{self.resource.path}: compression {self.compression} is not run by the twin"
            )
        kms = destination.get("EncryptionConfiguration", {}).get("KMSEncryptionConfig", {})
        self.kms_key = kms.get("AWSKMSKeyARN")
        self.dynamic = bool(destination.get("DynamicPartitioningConfiguration", {}).get("Enabled"))
        if destination.get("DataFormatConversionConfiguration", {}).get("Enabled"):
            raise DeliveryError(f"{self.resource.path}: record format conversion is not run by the twin")
        self.processor: dict[str, str] | None = None
        self.processor_role = self.role
        for processor in destination.get("ProcessingConfiguration", {}).get("Processors", []):
            parameters = {
                p["ParameterName"]: str(p["ParameterValue"]) for p in processor.get("Parameters", [])
            }
            if processor["Type"] == "Lambda":
                self.processor = parameters
                self.processor_role = parameters.get("RoleArn", self.role)
            else:
                raise DeliveryError(
                    f"{self.resource.path}: processor {processor['Type']} is not run by the twin"
                )
        self.source_stream: str | None = None
        self.source_role: str | None = None
        if props.get("DeliveryStreamType") == "KinesisStreamAsSource":
            source = props["KinesisStreamSourceConfiguration"]
            self.source_stream, self.source_role = str(source["KinesisStreamARN"]), str(source["RoleARN"])
        self._pending: list[Record] = []  # waiting for the Lambda buffer
        self._lambda_buffer: list[Record] = []
        self._partitions: dict[tuple[tuple[str, str], ...], _Buffer] = {}
        self._errors: dict[str, _Buffer] = {}
        self._clock = datetime.fromtimestamp(0, UTC)
        self._ids = 0

    # --- intake ---

    def put_record_batch(self, records: list[bytes], arrival: datetime) -> None:
        """Direct PUT: one ``PutRecordBatch`` request from a producer."""
        if self.source_stream is not None:
            raise InvalidRequest(
                f"InvalidArgumentException: {self.name} reads from a Kinesis stream; it takes no "
                "PutRecordBatch"
            )
        self.api.validate(
            "PutRecordBatch", {"DeliveryStreamName": self.name, "Records": [{"Data": d} for d in records]}
        )
        if not 1 <= len(records) <= MAX_BATCH_RECORDS:
            raise InvalidRequest(
                f"ValidationException: PutRecordBatch takes 1 to {MAX_BATCH_RECORDS} records"
            )
        for index, data in enumerate(records):
            if len(data) > MAX_RECORD_BYTES:
                raise InvalidRequest(
                    f"ValidationException: 'records.{index + 1}.member.data' failed to satisfy constraint: "
                    "Member "
                    f"must have length less than or equal to {MAX_RECORD_BYTES}"
                )
        if sum(len(d) for d in records) > MAX_BATCH_BYTES:
            raise InvalidRequest("ValidationException: PutRecordBatch request exceeds 4 MiB")
        for data in records:
            self._accept(Record(data, arrival))

    def poll_source(self) -> None:
        """Kinesis source: read what the stream holds, as Firehose's source role."""
        if self.source_stream is None or self.source_role is None:
            return
        self.iam.assume(
            self.source_role, "firehose.amazonaws.com", source_arn=self.arn, purpose=f"{self.name} source"
        )
        for record in self.kinesis.read_all(
            self.source_role, self.source_stream, purpose=f"{self.name} source"
        ):
            self._accept(
                Record(
                    record.data,
                    record.arrival,
                    kinesis={
                        "shardId": record.shard_id,
                        "partitionKey": record.partition_key,
                        "approximateArrivalTimestamp": int(record.arrival.timestamp() * 1000),
                        "sequenceNumber": record.sequence_number,
                        "subsequenceNumber": 0,
                    },
                )
            )

    def _accept(self, record: Record) -> None:
        # Firehose stamps the arrival itself: never earlier than what it has already seen.
        record.arrival = max(record.arrival, self._clock)
        self._ids += 1
        record.record_id = f"{self._ids:020d}"
        self.stats.records_in += 1
        self.advance(record.arrival)
        if self.processor is None:
            self._route([(record, record.data, {})])
            return
        buffer_bytes = int(float(self.processor.get("BufferSizeInMBs", "1")) * 1_000_000)
        if (
            self._lambda_buffer
            and sum(len(r.data) for r in self._lambda_buffer) + len(record.data) > buffer_bytes
        ):
            self._invoke()
        self._lambda_buffer.append(record)

    # --- time ---

    def advance(self, now: datetime) -> None:
        """Time passes: flush the Lambda buffer and every partition whose interval has elapsed."""
        self._clock = max(self._clock, now)
        if self._lambda_buffer and self.processor is not None:
            interval = timedelta(seconds=int(self.processor.get("BufferIntervalInSeconds", "60")))
            if self._clock - self._lambda_buffer[0].arrival >= interval:
                self._invoke()
        for key, buffer in list(self._partitions.items()):
            if self._clock - buffer.oldest >= self.interval:
                self._write(key, self._partitions.pop(key))
        for kind, buffer in list(self._errors.items()):
            if self._clock - buffer.oldest >= self.interval:
                self._write_errors(kind, self._errors.pop(kind))

    def drain(self) -> list[S3Object]:
        """Lets every buffer's interval elapse: everything accepted is delivered. Returns new objects."""
        before = len(self.written)
        self.poll_source()
        if self._lambda_buffer:
            self._invoke()
        self.advance(self._clock + self.interval)
        return self.written[before:]

    # --- transformation ---

    def _invoke(self) -> None:
        batch, self._lambda_buffer = self._lambda_buffer, []
        assert self.processor is not None
        lambda_arn = self.processor["LambdaArn"]
        env = self.resource.env
        event: dict[str, Any] = {
            "invocationId": str(uuid.uuid4()),
            "deliveryStreamArn": self.arn,
            "region": env.region,
            "records": [],
        }
        if self.source_stream is not None:
            event["sourceKinesisStreamArn"] = self.source_stream
        for record in batch:
            entry: dict[str, Any] = {
                "recordId": record.record_id,
                "approximateArrivalTimestamp": int(record.arrival.timestamp() * 1000),
                "data": base64.b64encode(record.data).decode(),
            }
            if record.kinesis is not None:
                entry["kinesisRecordMetadata"] = record.kinesis
            event["records"].append(entry)
        purpose = f"{self.name} transformation"
        self.iam.assume(self.processor_role, "firehose.amazonaws.com", source_arn=self.arn, purpose=purpose)
        self.iam.require(self.processor_role, "lambda:GetFunctionConfiguration", lambda_arn, purpose=purpose)
        attempts = int(self.processor.get("NumberOfRetries", "3")) + 1
        error = ""
        for attempt in range(1, attempts + 1):
            self.stats.invocations += 1
            try:
                response = self.lambdas.invoke(self.processor_role, lambda_arn, event, purpose=purpose)
                self._route(self._results(batch, response, lambda_arn, attempt))
                return
            except InvocationError as failure:
                error = str(failure)
        for record in batch:
            self._fail(
                record,
                "processing-failed",
                code="Lambda.FunctionError",
                message=error,
                lambda_arn=lambda_arn,
                attempts=attempts,
            )

    def _results(
        self, batch: list[Record], response: Any, lambda_arn: str, attempt: int
    ) -> list[tuple[Record, bytes, dict[str, str]]]:
        results = response.get("records") if isinstance(response, dict) else None
        if not isinstance(results, list):
            raise InvocationError("the response has no records list")
        by_id = {r.get("recordId"): r for r in results if isinstance(r, dict)}
        delivered: list[tuple[Record, bytes, dict[str, str]]] = []
        for record in batch:
            result = by_id.get(record.record_id)
            if result is None:
                self._fail(
                    record,
                    "processing-failed",
                    code="Lambda.MissingRecordId",
                    message="One or more record Ids were not returned",
                    lambda_arn=lambda_arn,
                    attempts=attempt,
                )
                continue
            status = result.get("result")
            if status == "Ok":
                self.stats.ok += 1
                keys = (result.get("metadata") or {}).get("partitionKeys") or {}
                delivered.append(
                    (
                        record,
                        base64.b64decode(result.get("data", "")),
                        {str(k): str(v) for k, v in keys.items()},
                    )
                )
            elif status == "Dropped":
                self.stats.dropped += 1
            elif status == "ProcessingFailed":
                self._fail(
                    record,
                    "processing-failed",
                    code="Lambda.ProcessingFailedStatus",
                    message="ProcessingFailed status set for record",
                    lambda_arn=lambda_arn,
                    attempts=attempt,
                )
            else:
                self._fail(
                    record,
                    "processing-failed",
                    code="Lambda.InvalidOutput",
                    message=f"result {status!r} is not Ok, Dropped or ProcessingFailed",
                    lambda_arn=lambda_arn,
                    attempts=attempt,
                )
        return delivered

    def _fail(
        self, record: Record, kind: str, *, code: str, message: str, lambda_arn: str | None, attempts: int
    ) -> None:
        self.stats.failed += kind == "processing-failed"
        self.stats.partitioning_failed += kind == "partitioning-failed"
        self.stats.failures_by_reason[code] = self.stats.failures_by_reason.get(code, 0) + 1
        document: dict[str, Any] = {
            "attemptsMade": attempts,
            "arrivalTimestamp": int(record.arrival.timestamp() * 1000),
            "errorCode": code,
            "errorMessage": message,
            "attemptEndingTimestamp": int(self._clock.timestamp() * 1000),
            "rawData": base64.b64encode(record.data).decode(),
        }
        if lambda_arn is not None:
            document["lambdaArn"] = lambda_arn
        line = (json.dumps(document, separators=(",", ":")) + "\n").encode()
        buffer = self._errors.setdefault(kind, _Buffer())
        buffer.records.append((line, record.arrival))
        buffer.size += len(line)

    # --- delivery ---

    def _route(self, delivered: list[tuple[Record, bytes, dict[str, str]]]) -> None:
        names = _EXPRESSION.findall(self.prefix)
        needed = [
            n.split(":", 1)[1]
            for n in names
            if n.startswith(("partitionKeyFromLambda:", "partitionKeyFromQuery:"))
        ]
        for record, data, keys in delivered:
            if self.dynamic and any(k not in keys for k in needed):
                self._fail(
                    record,
                    "partitioning-failed",
                    code="DynamicPartitioning.MetadataExtractionFailed",
                    message=f"partition keys {needed} missing",
                    lambda_arn=None,
                    attempts=1,
                )
                continue
            key = tuple(sorted((k, keys[k]) for k in needed))
            buffer = self._partitions.setdefault(key, _Buffer())
            buffer.records.append((data, record.arrival))
            buffer.size += len(data)
            if buffer.size >= self.size_limit:
                self._write(key, self._partitions.pop(key))

    def _render(
        self, template: str, keys: dict[str, str], oldest: datetime, error_type: str | None = None
    ) -> str:
        def expression(match: re.Match[str]) -> str:
            namespace, _, argument = match.group(1).partition(":")
            if namespace == "timestamp":
                return render_timestamp(argument, oldest)
            if namespace in ("partitionKeyFromLambda", "partitionKeyFromQuery"):
                return keys[argument]
            if namespace == "firehose" and argument == "error-output-type" and error_type is not None:
                return error_type
            if namespace == "firehose" and argument == "random-string":
                return uuid.uuid4().hex[:11]
            raise DeliveryError(f"prefix expression !{{{match.group(1)}}} is not supported by the twin")

        return _EXPRESSION.sub(expression, template)

    def _object_name(self, oldest: datetime) -> str:
        suffix = ".gz" if self.compression == "GZIP" else ""
        return f"{self.name}-1-{oldest:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{suffix}"

    def _body(self, buffer: _Buffer) -> bytes:
        raw = b"".join(data for data, _ in buffer.records)
        return gzip.compress(raw, mtime=0) if self.compression == "GZIP" else raw

    def _put(self, key: str, body: bytes, when: datetime) -> None:
        bucket = self.s3.bucket(self.bucket)
        self.iam.assume(
            self.role, "firehose.amazonaws.com", source_arn=self.arn, purpose=f"{self.name} delivery"
        )
        # Firehose encrypts with its configured key (which may differ from the bucket default).
        self.s3.authorize(
            self.role, "PutObject", self.bucket, key, purpose=f"{self.name} delivery", sse_key=self.kms_key
        )
        path = self.s3.path(bucket.name, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        written = S3Object(bucket.name, key, len(body), path.stat().st_mtime)
        self.s3.object_created(written, reason="PutObject", requester="firehose.amazonaws.com", when=when)
        self.written.append(written)

    def _write(self, key: tuple[tuple[str, str], ...], buffer: _Buffer) -> None:
        oldest = buffer.oldest
        path = self._render(self.prefix, dict(key), oldest) + self._object_name(oldest)
        self._put(path, self._body(buffer), self._clock)
        self.stats.objects += 1

    def _write_errors(self, kind: str, buffer: _Buffer) -> None:
        if not self.error_prefix:
            raise DeliveryError(f"{self.name}: records failed and there is no ErrorOutputPrefix")
        oldest = buffer.oldest
        path = self._render(self.error_prefix, {}, oldest, error_type=kind) + self._object_name(oldest)
        self._put(path, self._body(buffer), self._clock)
        self.stats.error_objects += 1


@dataclass
class Firehose:
    assembly: CloudAssembly
    s3: S3
    lambdas: LambdaService
    kinesis: Kinesis
    iam: PolicyEngine

    def __post_init__(self) -> None:
        self.streams = {
            resource.name: DeliveryStream(resource, self.s3, self.lambdas, self.kinesis, self.iam)
            for resource in self.assembly.resources("AWS::KinesisFirehose::DeliveryStream")
        }

    def __iter__(self) -> Iterator[DeliveryStream]:
        return iter(self.streams.values())

    def only(self) -> DeliveryStream:
        if len(self.streams) != 1:
            raise DeliveryError(f"expected one delivery stream in the assembly, found {len(self.streams)}")
        return next(iter(self.streams.values()))
