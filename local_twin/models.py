"""The AWS SDK's own service models (botocore's JSON models): what a request may hold and a response is.

Every service twin passes each request through ``ServiceApi.validate`` (the operation exists, required
members are present, names and types are right; botocore's own ``ParamValidator``) and each response
through ``ServiceApi.shape`` (only members of the output shape, of the right type, every required one),
so what a state machine reads from a twin is what it would read from AWS.

Errors are named as Step Functions names them
(https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html): the integration's
exception prefix, a dot, the error code with ``Exception`` appended when it does not end with it. The
prefix table is AWS's ("Exception prefix" column) for the SDK integrations the platform uses; for the
optimized SNS integration, AWS documents none: ``SNS`` is what the platform assumes (see
docs/first-deploy.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

# Step Functions' exception prefix per integration (AWS's table for SDK integrations).
SDK_EXCEPTION_PREFIX = {
    "glue": "Glue",
    "sfn": "Sfn",
    "sns": "Sns",
    "redshiftdata": "RedshiftData",
    "s3": "S3",
    "athena": "Athena",
    "lambda": "Lambda",
    "firehose": "Firehose",
    "kinesis": "Kinesis",
}
# Optimized integrations (arn:aws:states:::<service>:<action>): Glue documents Glue.<Error>; SNS's prefix
# is not documented (assumed SNS).
OPTIMIZED_EXCEPTION_PREFIX = {"glue": "Glue", "sns": "SNS"}
# The integration name in a Task's Resource -> botocore's service name.
BOTOCORE_SERVICE = {
    "glue": "glue",
    "sfn": "stepfunctions",
    "sns": "sns",
    "redshiftdata": "redshift-data",
    "s3": "s3",
    "athena": "athena",
    "lambda": "lambda",
    "firehose": "firehose",
    "kinesis": "kinesis",
}


def _throttling_codes() -> frozenset[str]:
    """Error codes the SDK treats as throttling or transient for every operation of every service
    (botocore's standard retry mode): an operation may raise these though its model does not list them."""
    from botocore.retries import standard  # noqa: PLC0415

    return frozenset(standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES) | frozenset(
        standard.TransientRetryableChecker._TRANSIENT_ERROR_CODES
    )


THROTTLING_CODES = _throttling_codes()


class InvalidRequest(Exception):  # noqa: N818 (what AWS answers: a validation error)
    """A request the service's model rejects (unknown operation, missing or mistyped parameter)."""


class ShapeError(Exception):
    """A twin answered with something the service's model does not allow: a bug in the twin."""


@cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def exception_name(prefix: str, code: str) -> str:
    """``Glue`` + ``EntityNotFoundException`` -> ``Glue.EntityNotFoundException``; ``Sfn`` + ``InvalidArn`` ->
    ``Sfn.InvalidArnException`` (Step Functions always appends ``Exception``)."""
    return f"{prefix}.{code if code.endswith('Exception') else code + 'Exception'}"


@dataclass(frozen=True)
class ServiceApi:
    """One service's model: operations, request validation, response shaping, error names."""

    service: str  # botocore's name: "glue", "stepfunctions", "redshift-data" ...

    @property
    def model(self) -> ServiceModel:
        return service_model(self.service)

    def operation(self, name: str) -> OperationModel:
        """By API name (``StartCrawler``) or Step Functions' camelCase action (``startCrawler``)."""
        wanted = name[:1].upper() + name[1:]
        if wanted not in self.model.operation_names:
            raise InvalidRequest(f"{self.service} has no operation {name}")
        return self.model.operation_model(wanted)

    def validate(self, operation: str, params: Mapping[str, Any]) -> OperationModel:
        model = self.operation(operation)
        shape = model.input_shape
        if shape is None:
            if params:
                raise InvalidRequest(f"{self.service}.{model.name} takes no parameters, got {sorted(params)}")
            return model
        report = ParamValidator().validate(_to_model(shape, dict(params)), shape)
        if report.has_errors():
            raise InvalidRequest(
                f"{self.service}.{model.name}: {ParamValidationError(report=report.generate_report())}"
            )
        return model

    def error_codes(self, operation: str) -> frozenset[str]:
        """Error codes the operation may raise: those its model declares, and the SDK's throttling and
        transient codes every operation may return."""
        return frozenset(e.name for e in self.operation(operation).error_shapes) | THROTTLING_CODES

    def declared_error(self, operation: str, code: str) -> str:
        if code not in self.error_codes(operation):
            raise ShapeError(f"{self.service}.{operation} does not declare the error {code}")
        return code

    def shape(self, operation: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` checked against the operation's output shape, timestamps rendered as ISO-8601 text
        (as Step Functions hands SDK responses to the state machine)."""
        model = self.operation(operation)
        if model.output_shape is None:
            if data:
                raise ShapeError(
                    f"{self.service}.{model.name} returns nothing, the twin returned {sorted(data)}"
                )
            return {}
        shaped = _shape(model.output_shape, data, f"{self.service}.{model.name}")
        assert isinstance(shaped, dict)
        return shaped


def pascal(name: str) -> str:
    """How Step Functions spells a model member (``stateMachineArn`` -> ``StateMachineArn``)."""
    return name[:1].upper() + name[1:]


def _member(shape: Shape, key: str) -> str | None:
    members = shape.members
    if key in members:
        return key
    return next((m for m in members if pascal(m) == key), None)


def _to_model(shape: Shape, value: Any) -> Any:
    """A Step Functions request (PascalCase members) in the model's own member names, for validation."""
    if shape.type_name == "structure" and isinstance(value, Mapping):
        converted = {}
        for key, item in value.items():
            member = _member(shape, key)
            converted[member or key] = _to_model(shape.members[member], item) if member else item
        return converted
    if shape.type_name == "list" and isinstance(value, list):
        return [_to_model(shape.member, v) for v in value]
    if shape.type_name == "map" and isinstance(value, Mapping):
        return {k: _to_model(shape.value, v) for k, v in value.items()}
    return value


def _shape(shape: Shape, value: Any, where: str) -> Any:  # noqa: PLR0911 (one branch per type)
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise ShapeError(f"{where}: expected a structure, got {type(value).__name__}")
        members = shape.members
        resolved = {key: _member(shape, key) for key in value}
        unknown = sorted(k for k, m in resolved.items() if m is None)
        if unknown:
            raise ShapeError(f"{where}: {unknown} not in the output shape {shape.name}")
        present = {m for m in resolved.values()}
        missing = [m for m in shape.required_members if m not in present]
        if missing:
            raise ShapeError(f"{where}: required members {missing} of {shape.name} missing")
        # Step Functions hands SDK responses to the state machine with PascalCase member names.
        return {
            pascal(member): _shape(members[member], v, f"{where}.{k}")
            for k, v in value.items()
            if v is not None and (member := resolved[k]) is not None
        }
    if kind == "list":
        if not isinstance(value, list):
            raise ShapeError(f"{where}: expected a list, got {type(value).__name__}")
        return [_shape(shape.member, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, Mapping):
            raise ShapeError(f"{where}: expected a map, got {type(value).__name__}")
        return {str(k): _shape(shape.value, v, f"{where}.{k}") for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if isinstance(value, str):
            return value
        raise ShapeError(f"{where}: expected a timestamp, got {type(value).__name__}")
    if kind == "string":
        if not isinstance(value, str):
            raise ShapeError(f"{where}: expected a string, got {type(value).__name__}")
        enum = shape.enum
        if enum and value not in enum:
            raise ShapeError(f"{where}: {value!r} is not one of {enum}")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ShapeError(f"{where}: expected an integer, got {type(value).__name__}")
        return value
    if kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ShapeError(f"{where}: expected a number, got {type(value).__name__}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ShapeError(f"{where}: expected a boolean, got {type(value).__name__}")
        return value
    if kind == "blob":
        return value
    raise ShapeError(f"{where}: shape type {kind} is not supported by the twin")


@dataclass(frozen=True)
class Integration:
    """A Task state's ``Resource``, parsed: which service and operation it calls, how errors are named."""

    kind: str  # "sdk" (aws-sdk:<service>:<action>) or "optimized"
    service: str  # the integration's service name: "glue", "sfn", "sns", "redshiftdata" ...
    action: str  # as in the ARN: "startCrawler", "startJobRun", "publish"
    pattern: str  # "" (request-response), "sync", "waitForTaskToken"

    @classmethod
    def parse(cls, resource: str) -> Integration:
        parts = resource.split(":")
        if len(parts) < 7 or parts[2] != "states":
            raise InvalidRequest(f"Task resource {resource} is not a Step Functions service integration")
        if parts[5] == "aws-sdk":
            service, action = parts[6], parts[7] if len(parts) > 7 else ""
            kind = "sdk"
        else:
            service, action, kind = parts[5], parts[6], "optimized"
        pattern = ""
        if "." in action:
            action, pattern = action.split(".", 1)
        return cls(kind, service, action, pattern)

    @property
    def api(self) -> ServiceApi:
        if self.service not in BOTOCORE_SERVICE:
            raise InvalidRequest(f"the twin does not know the {self.service} integration")
        return ServiceApi(BOTOCORE_SERVICE[self.service])

    @property
    def prefix(self) -> str:
        table = SDK_EXCEPTION_PREFIX if self.kind == "sdk" else OPTIMIZED_EXCEPTION_PREFIX
        if self.service not in table:
            raise InvalidRequest(f"no known exception prefix for the {self.kind} {self.service} integration")
        return table[self.service]

    def error(self, code: str) -> str:
        """The Step Functions error name of ``code`` raised by this integration's operation."""
        self.api.declared_error(self.action, code)
        return exception_name(self.prefix, code)

    def raisable(self) -> frozenset[str]:
        """Every error name a Retry or Catch on this Task can meaningfully name (outside ``States.*``)."""
        return frozenset(exception_name(self.prefix, code) for code in self.api.error_codes(self.action))
