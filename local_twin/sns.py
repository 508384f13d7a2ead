"""SNS: topics of the assembly; every message published is kept in an outbox (nothing is sent).

A publisher needs ``sns:Publish`` on the topic (its identity policies or the topic policy) and, for a
topic encrypted with a customer-managed key, ``kms:GenerateDataKey`` and ``kms:Decrypt`` on that key
(https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). An AWS service publishing (EventBridge,
CloudWatch alarms, Budgets) has no identity policies: the topic policy and the key policy must allow the
service principal, with the ``aws:SourceArn``/``aws:SourceAccount`` of the publishing resource.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local_twin.assembly import CloudAssembly
from local_twin.iam import Decision, PolicyEngine
from local_twin.models import InvalidRequest, ServiceApi


@dataclass(frozen=True)
class Message:
    topic: str
    subject: str | None
    body: str
    publisher: str
    message_id: str
    time: datetime

    def json(self) -> Any:
        """The body parsed as JSON (every alert the platform sends is JSON)."""
        return json.loads(self.body)


@dataclass
class Sns:
    assembly: CloudAssembly
    iam: PolicyEngine
    outbox: list[Message] = field(default_factory=list)
    api: ServiceApi = field(default_factory=lambda: ServiceApi("sns"))

    def __post_init__(self) -> None:
        self.topics: dict[str, str | None] = {}  # topic ARN -> its KMS key ARN
        for topic in self.assembly.resources("AWS::SNS::Topic"):
            key = topic.properties.get("KmsMasterKeyId")
            self.topics[topic.ref] = str(key) if key is not None else None

    def authorize(
        self, publisher: str, topic_arn: str, *, source_arn: str | None = None, purpose: str = ""
    ) -> list[Decision]:
        if topic_arn not in self.topics:
            raise InvalidRequest(f"NotFound: topic {topic_arn} is not in the cloud assembly")
        env = self.assembly.env
        context: dict[str, str] = {}
        if not publisher.startswith("arn:"):
            context["aws:SourceAccount"] = env.account
            if source_arn is not None:
                context["aws:SourceArn"] = source_arn
        decisions = [self.iam.require(publisher, "sns:Publish", topic_arn, context=context, purpose=purpose)]
        key = self.topics[topic_arn]
        if key is not None:
            kms_context = {**context, "kms:ViaService": f"sns.{env.region}.{env.url_suffix}"}
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                decisions.append(
                    self.iam.require(publisher, action, key, context=kms_context, purpose=purpose)
                )
        return decisions

    def publish(
        self,
        publisher: str,
        topic_arn: str,
        message: str,
        *,
        subject: str | None = None,
        source_arn: str | None = None,
        purpose: str = "",
        when: datetime | None = None,
    ) -> str:
        request: dict[str, Any] = {"TopicArn": topic_arn, "Message": message}
        if subject is not None:
            request["Subject"] = subject
        self.api.validate("Publish", request)
        if subject is not None and (len(subject) > 100 or not subject.isprintable()):
            raise InvalidRequest("InvalidParameter: Subject must be at most 100 printable ASCII characters")
        self.authorize(publisher, topic_arn, source_arn=source_arn, purpose=purpose)
        message_id = str(uuid.uuid4())
        self.outbox.append(
            Message(topic_arn, subject, message, publisher, message_id, when or datetime.now(UTC))
        )
        return message_id
