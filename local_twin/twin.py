"""The local twin: every service twin wired together over one cloud assembly and one folder.

``LocalTwin(cdk_out, workdir)`` reads the assembly and stands up S3 (``<workdir>/s3/<bucket>/<key>``),
IAM, KMS (key policies, evaluated by IAM), Kinesis, Firehose, Lambda, EventBridge, Step Functions, Glue,
SNS, the Redshift Data API and Athena. Scenarios drive it: ``ingest`` records, ``trigger`` what the
delivered objects' events start, ``fire_schedules``, ``serve``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local_twin.assembly import CloudAssembly
from local_twin.athena import Athena
from local_twin.events import Delivery, EventBridge, next_fire_time
from local_twin.firehose import DeliveryStream, Firehose
from local_twin.glue import Glue
from local_twin.iam import PolicyEngine
from local_twin.kinesis import Kinesis
from local_twin.lambda_ import LambdaService
from local_twin.producer import Produced
from local_twin.redshift_data import RedshiftData
from local_twin.s3 import S3
from local_twin.sns import Sns
from local_twin.stepfunctions import Execution, StepFunctions, TaskContext

_BATCH_RECORDS = 500
_BATCH_BYTES = 4 * 1024 * 1024 - 1024


@dataclass
class Clock:
    """The twin's time: real time unless a scenario sets it."""

    fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed or datetime.now(UTC)


class LocalTwin:
    def __init__(
        self,
        cdk_out: str | Path,
        workdir: str | Path,
        *,
        account: str | None = None,
        region: str | None = None,
        fresh: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        if fresh and self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.progress = progress or (lambda _: None)
        self.clock = Clock()
        self.assembly = CloudAssembly(cdk_out, account=account, region=region)
        self.iam = PolicyEngine(self.assembly)
        self.sns = Sns(self.assembly, self.iam)
        self.events = EventBridge(self.assembly, self.iam, self.sns)
        self.s3 = S3(self.assembly, self.iam, self.workdir / "s3", event_sink=self.events.put_event)
        self.lambdas = LambdaService(self.assembly, self.iam)
        self.kinesis = Kinesis(self.assembly, self.iam)
        self.firehose = Firehose(self.assembly, self.s3, self.lambdas, self.kinesis, self.iam)
        self.sfn = StepFunctions(self.assembly, self.iam, clock=self.clock)
        self.events.start_execution = self.sfn.start_execution
        self.glue = Glue(self.assembly, self.iam, self.s3, self.events, clock=self.clock)
        self.glue.register(self.sfn)
        self.redshift = RedshiftData(self.assembly, self.iam, self.glue, self.s3, self.clock)
        self.redshift.register(self.sfn)
        self.sfn.handlers[("sns", "publish")] = self._sns_publish
        self.s3.register(self.sfn)
        self.athena = Athena(self.assembly, self.glue, self.s3)

    def close(self) -> None:
        self.sfn.close()

    def __enter__(self) -> LocalTwin:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- ingestion ---

    @property
    def delivery_stream(self) -> DeliveryStream:
        return self.firehose.only()

    def ingest(self, records: list[Produced]) -> list[str]:
        """Producers send ``records`` (in arrival order); Firehose delivers them all. Returns the keys of
        the objects written."""
        stream = self.delivery_stream
        written_before = len(stream.written)
        batch: list[Produced] = []
        size = 0

        def send() -> None:
            if not batch:
                return
            arrival = batch[-1].arrival
            if stream.source_stream is not None:
                self.kinesis.put_records(
                    stream.source_stream, [(r.data, r.partition_key or r.kind) for r in batch], arrival
                )
                stream.poll_source()
            else:
                stream.put_record_batch([r.data for r in batch], arrival)
            batch.clear()

        for record in sorted(records, key=lambda r: r.arrival):
            if batch and (
                len(batch) == _BATCH_RECORDS
                or size + len(record.data) > _BATCH_BYTES
                or (
                    record.arrival != batch[-1].arrival
                    and (record.arrival - batch[0].arrival).total_seconds() >= 1
                )
            ):
                send()
                size = 0
            batch.append(record)
            size += len(record.data)
        send()
        stream.drain()
        return [o.key for o in stream.written[written_before:]]

    # --- triggers and runs ---

    def trigger(self) -> list[Execution]:
        """EventBridge delivers what arrived (S3 and Glue events); every execution that starts runs to its
        end (one already running, e.g. the one a scenario interrupts, is not waited for). Repeats until
        no new event starts anything."""
        started: list[Execution] = []
        while True:
            deliveries = self.events.dispatch()
            executions = [
                self.sfn.executions[d.detail] for d in deliveries if d.detail in self.sfn.executions
            ]
            if not executions:
                return started
            self.progress(f"{len(executions)} execution(s) started by EventBridge; running")
            self.sfn.wait([e.arn for e in executions])
            started += executions

    def fire_schedules(self) -> list[Execution]:
        """Each schedule rule fires once, at its next time after now."""
        started = []
        for rule in self.events.scheduled_rules():
            assert rule.schedule is not None
            when = next_fire_time(rule.schedule, self.clock())
            for delivery in self.events.fire_schedule(rule, when):
                if delivery.detail in self.sfn.executions:
                    started.append(self.sfn.executions[delivery.detail])
        if started:
            self.progress(f"{len(started)} scheduled execution(s) started; running")
        self.sfn.wait([e.arn for e in started])
        return started + self.trigger()  # and what the scheduled runs' events start

    # --- alerts that AWS services send on their own ---

    def alarm_delivery_checks(self) -> list[str]:
        """Every alarm and budget action that targets an SNS topic: could the service publish there?
        Returns what could not (the decisions are in the IAM log)."""
        problems = []
        for alarm in self.assembly.resources("AWS::CloudWatch::Alarm"):
            props = alarm.properties
            for topic in {
                *props.get("AlarmActions", []),
                *props.get("OKActions", []),
                *props.get("InsufficientDataActions", []),
            }:
                if str(topic).split(":")[2] != "sns":
                    continue
                try:
                    self.sns.authorize(
                        "cloudwatch.amazonaws.com",
                        str(topic),
                        source_arn=alarm.arn,
                        purpose=f"alarm {alarm.path}",
                    )
                except Exception as error:
                    problems.append(f"{alarm.path}: {error}")
        for budget in self.assembly.resources("AWS::Budgets::Budget"):
            for notification in budget.properties.get("NotificationsWithSubscribers", []):
                for subscriber in notification.get("Subscribers", []):
                    if subscriber.get("SubscriptionType") == "SNS":
                        try:
                            self.sns.authorize(
                                "budgets.amazonaws.com",
                                str(subscriber["Address"]),
                                purpose=f"budget {budget.path}",
                            )
                        except Exception as error:
                            problems.append(f"{budget.path}: {error}")
        return problems

    # --- the optimized SNS integration ---

    def _sns_publish(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        message_id = self.sns.publish(
            ctx.role,
            str(params["TopicArn"]),
            str(params["Message"]),
            subject=params.get("Subject"),
            purpose=ctx.purpose,
            when=self.clock(),
        )
        # The optimized integration returns the SDK response with its HTTP metadata.
        return {
            "MessageId": message_id,
            "SdkHttpMetadata": {"HttpStatusCode": 200, "HttpHeaders": {"Content-Type": "text/xml"}},
            "SdkResponseMetadata": {"RequestId": message_id},
        }

    def alerts(self) -> list[dict[str, Any]]:
        """The outbox, each message's body parsed."""
        out = []
        for message in self.sns.outbox:
            try:
                body = json.loads(message.body)
            except json.JSONDecodeError:
                body = message.body
            out.append({"subject": message.subject, "publisher": message.publisher, "body": body})
        return out

    def deliveries(self) -> list[Delivery]:
        return list(self.events.deliveries)
