"""S3: the buckets of the assembly as local folders, with their policies, encryption and events.

``<root>/<bucket name>/<key>`` holds each object. Every request is checked for the calling principal:
the S3 action on the object (or bucket, for listings, with ``s3:prefix``) against its identity policies
and the bucket policy, and, for an SSE-KMS object, the KMS action on its key (``kms:GenerateDataKey``
to write, ``kms:Decrypt`` to read: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-UsingKMSEncryption.html)
against the key policy and its identity policies, with the encryption context S3 passes (the bucket
ARN when S3 Bucket Keys are on, else the object ARN).

A bucket with ``EventBridgeConfiguration`` sends an "Object Created" event for each new object, in S3's
event shape (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local_twin.assembly import CloudAssembly
from local_twin.iam import PolicyEngine
from local_twin.stepfunctions import ServiceError, StepFunctions, TaskContext

EventSink = Callable[[dict[str, Any]], None]


class NoSuchBucket(Exception):  # noqa: N818 (S3's error code)
    pass


@dataclass(frozen=True)
class Bucket:
    name: str
    logical_path: str
    kms_key_arn: str | None  # default encryption with a KMS key, else SSE-S3
    bucket_key: bool
    eventbridge: bool

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    modified: float  # epoch seconds

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass
class S3:
    assembly: CloudAssembly
    iam: PolicyEngine
    root: Path
    event_sink: EventSink | None = None
    object_keys: dict[tuple[str, str], str | None] = field(default_factory=dict)  # SSE key per object

    def __post_init__(self) -> None:
        self.buckets: dict[str, Bucket] = {}
        for resource in self.assembly.resources("AWS::S3::Bucket"):
            props = resource.properties
            rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
            default = rules[0] if rules else {}
            by_default = default.get("ServerSideEncryptionByDefault", {})
            kms = (
                by_default.get("KMSMasterKeyID")
                if by_default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse")
                else None
            )
            self.buckets[resource.name] = Bucket(
                name=resource.name,
                logical_path=resource.path,
                kms_key_arn=self._key_arn(kms) if kms else None,
                bucket_key=bool(default.get("BucketKeyEnabled")),
                eventbridge=bool(
                    props.get("NotificationConfiguration", {})
                    .get("EventBridgeConfiguration", {})
                    .get("EventBridgeEnabled")
                ),
            )
            (self.root / resource.name).mkdir(parents=True, exist_ok=True)

    def _key_arn(self, key: str) -> str:
        if key.startswith("arn:"):
            return key
        env = self.assembly.env
        return env.arn("kms", f"key/{key}") if not key.startswith("alias/") else env.arn("kms", key)

    def bucket(self, name: str) -> Bucket:
        if name not in self.buckets:
            raise NoSuchBucket(f"NoSuchBucket: {name} is not a bucket of the cloud assembly")
        return self.buckets[name]

    def path(self, bucket: str, key: str) -> Path:
        self.bucket(bucket)
        return self.root / bucket / key

    # --- permission checks (shared with the Hadoop file system's audit) ---

    def _kms_context(self, bucket: Bucket, key: str) -> dict[str, str]:
        env = self.assembly.env
        resource = bucket.arn if bucket.bucket_key else f"{bucket.arn}/{key}"
        return {
            "kms:ViaService": f"s3.{env.region}.{env.url_suffix}",
            "kms:EncryptionContext:aws:s3:arn": resource,
        }

    def authorize(
        self,
        principal: str,
        operation: str,
        bucket_name: str,
        key: str,
        *,
        purpose: str = "",
        sse_key: str | None = None,
    ) -> None:
        """Checks one S3 request (``GetObject``, ``HeadObject``, ``PutObject``, ``DeleteObject``,
        ``ListObjectsV2``) of ``principal``; raises ``AccessDenied`` when it is not allowed."""
        bucket = self.bucket(bucket_name)
        object_arn = f"{bucket.arn}/{key}"
        if operation == "ListObjectsV2":
            self.iam.require(
                principal, "s3:ListBucket", bucket.arn, context={"s3:prefix": key}, purpose=purpose
            )
            return
        action = {
            "GetObject": "s3:GetObject",
            "HeadObject": "s3:GetObject",
            "PutObject": "s3:PutObject",
            "DeleteObject": "s3:DeleteObject",
        }[operation]
        self.iam.require(principal, action, object_arn, resource_policy_arn=bucket.arn, purpose=purpose)
        if operation == "PutObject":
            encryption = sse_key if sse_key is not None else bucket.kms_key_arn
            self.object_keys[(bucket_name, key)] = encryption
            if encryption is not None:
                self.iam.require(
                    principal,
                    "kms:GenerateDataKey",
                    encryption,
                    context=self._kms_context(bucket, key),
                    purpose=purpose,
                )
        elif operation == "GetObject":
            encryption = self.object_keys.get((bucket_name, key), bucket.kms_key_arn)
            if encryption is not None:
                self.iam.require(
                    principal,
                    "kms:Decrypt",
                    encryption,
                    context=self._kms_context(bucket, key),
                    purpose=purpose,
                )

    # --- the API ---

    def put_object(
        self,
        principal: str,
        bucket: str,
        key: str,
        body: bytes,
        *,
        purpose: str = "",
        requester: str | None = None,
        when: datetime | None = None,
    ) -> S3Object:
        self.authorize(principal, "PutObject", bucket, key, purpose=purpose)
        path = self.path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        written = S3Object(bucket, key, len(body), path.stat().st_mtime)
        self.object_created(written, reason="PutObject", requester=requester or principal, when=when)
        return written

    def get_object(self, principal: str, bucket: str, key: str, *, purpose: str = "") -> bytes:
        self.authorize(principal, "GetObject", bucket, key, purpose=purpose)
        return self.path(bucket, key).read_bytes()

    def list_objects(
        self, principal: str | None, bucket: str, prefix: str = "", *, purpose: str = ""
    ) -> list[S3Object]:
        """Objects under ``prefix``; ``principal`` None: the twin looking, not a request."""
        if principal is not None:
            self.authorize(principal, "ListObjectsV2", bucket, prefix, purpose=purpose)
        return sorted(self.objects(bucket, prefix), key=lambda o: o.key)

    def objects(self, bucket: str, prefix: str = "") -> Iterator[S3Object]:
        base = self.root / self.bucket(bucket).name
        # Walk only the deepest folder the prefix names (a key prefix may end mid-name).
        start = base / prefix.rsplit("/", 1)[0] if "/" in prefix else base
        if not start.is_dir():
            return
        for path in start.rglob("*"):
            if path.is_file():
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix):
                    stat = path.stat()
                    yield S3Object(bucket, key, stat.st_size, stat.st_mtime)

    # --- the S3 API as Step Functions' SDK integration calls it ---

    def register(self, sfn: StepFunctions) -> None:
        sfn.handlers[("s3", "getObject")] = self._sfn_get_object

    def _sfn_get_object(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        """GetObject as the state machine's role. Step Functions hands the Body over as text."""
        bucket, key = str(params["Bucket"]), str(params["Key"])
        self.authorize(ctx.role, "GetObject", bucket, key, purpose=ctx.purpose)
        path = self.path(bucket, key)
        if not path.is_file():
            raise ServiceError("NoSuchKey", "The specified key does not exist.")
        body = path.read_bytes()
        return {
            "Body": body.decode("utf-8"),
            "ContentLength": len(body),
            "ContentType": "application/octet-stream",
            "ETag": f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"',
            "LastModified": datetime.fromtimestamp(path.stat().st_mtime, UTC),
        }

    def object_created(
        self, obj: S3Object, *, reason: str, requester: str, when: datetime | None = None
    ) -> None:
        """Sends S3's EventBridge "Object Created" event, if the bucket sends events."""
        bucket = self.bucket(obj.bucket)
        if not bucket.eventbridge or self.event_sink is None:
            return
        env = self.assembly.env
        moment = when or datetime.now(UTC)
        etag = hashlib.md5(self.path(obj.bucket, obj.key).read_bytes(), usedforsecurity=False).hexdigest()
        self.event_sink(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Object Created",
                "source": "aws.s3",
                "account": env.account,
                "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": env.region,
                "resources": [bucket.arn],
                "detail": {
                    "version": "0",
                    "bucket": {"name": obj.bucket},
                    "object": {
                        "key": obj.key,
                        "size": obj.size,
                        "etag": etag,
                        "version-id": uuid.uuid4().hex,
                        "sequencer": f"{int(moment.timestamp() * 1e6):016X}",
                    },
                    "request-id": uuid.uuid4().hex[:16].upper(),
                    "requester": requester,
                    "reason": reason,
                },
            }
        )
