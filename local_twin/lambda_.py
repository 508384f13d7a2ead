"""Lambda: runs a function's code asset in this process, as the Lambda runtime would call it.

The handler (``Handler`` ``module.function``) is imported from the function's asset folder in the cloud
assembly, its ``Environment`` variables set for the call. Before each invocation the twin checks what
Lambda does with the function's role: writing the function's logs (``logs:CreateLogStream`` and
``PutLogEvents`` on its log group) and, with active tracing, sending traces (``xray:PutTraceSegments``).
The caller needs
``lambda:InvokeFunction`` on the function. A response larger than Lambda's 6 MB synchronous limit is an
invocation error, as in AWS. Environment variables encrypted with ``KmsKeyArn`` are decrypted through the
grant Lambda creates on the key when the function is deployed, not through the role's policies: the twin
does not check them (see docs/first-deploy.md).

The twin runs Python handlers only, on this interpreter (3.11) whatever ``Runtime`` says (the platform's
function targets python3.12; its code uses nothing newer than 3.11).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local_twin.assembly import CloudAssembly, Resource
from local_twin.iam import PolicyEngine

RESPONSE_LIMIT_BYTES = 6_291_456  # synchronous invocation payload quota


class InvocationError(Exception):
    """The function raised, timed out or returned more than Lambda allows (a ``Lambda.FunctionError``)."""


@dataclass
class Function:
    resource: Resource
    name: str
    arn: str
    role: str
    handler: str
    runtime: str
    code: Path
    environment: dict[str, str]
    kms_key: str | None
    log_group: str
    timeout_seconds: int
    tracing: bool
    module: ModuleType | None = None
    invocations: int = 0
    seconds: float = 0.0
    logs: list[str] = field(default_factory=list)


class _Context:
    """The context object the Python runtime passes to a handler."""

    def __init__(self, function: Function, deadline: float) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = int(function.resource.properties.get("MemorySize", 128))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = function.log_group
        self.log_stream_name = f"2026/01/01/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LambdaService:
    assembly: CloudAssembly
    iam: PolicyEngine

    def __post_init__(self) -> None:
        self.functions: dict[str, Function] = {}
        for resource in self.assembly.resources("AWS::Lambda::Function"):
            props = resource.properties
            code = props.get("Code", {})
            if "S3Key" not in code:
                continue  # inline code (CDK's own custom-resource providers): not run by the twin
            log_group = props.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{resource.name}"
            function = Function(
                resource=resource,
                name=resource.name,
                arn=resource.arn,
                role=str(props["Role"]),
                handler=str(props.get("Handler", "")),
                runtime=str(props.get("Runtime", "")),
                code=self.assembly.asset(str(code["S3Key"])),
                environment={k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()},
                kms_key=props.get("KmsKeyArn"),
                log_group=str(log_group),
                timeout_seconds=int(props.get("Timeout", 3)),
                tracing=props.get("TracingConfig", {}).get("Mode") == "Active",
            )
            self.functions[function.arn] = function

    def function(self, arn_or_name: str) -> Function:
        base = arn_or_name.split(":function:", 1)
        name = base[1].split(":", 1)[0] if len(base) == 2 else arn_or_name
        for function in self.functions.values():
            if function.name == name:
                return function
        raise KeyError(f"ResourceNotFoundException: function {arn_or_name} is not in the cloud assembly")

    def invoke(self, caller: str, arn: str, event: Any, *, purpose: str = "") -> Any:
        """Invokes ``arn`` synchronously for ``caller`` (a role ARN or a service principal)."""
        function = self.function(arn)
        self.iam.require(
            caller, "lambda:InvokeFunction", arn, resource_policy_arn=function.arn, purpose=purpose
        )
        self.iam.assume(
            function.role, "lambda.amazonaws.com", source_arn=function.arn, purpose=f"{function.name} runtime"
        )
        self._runtime_permissions(function)
        if not function.runtime.startswith("python"):
            raise InvocationError(
                f"{function.name}: runtime {function.runtime} is not run by the twin (Python only)"
            )
        handler = self._handler(function)
        started = time.monotonic()
        output = io.StringIO()
        try:
            with _environment(function), contextlib.redirect_stdout(output):
                response = handler(
                    json.loads(json.dumps(event)), _Context(function, started + function.timeout_seconds)
                )
        except Exception as error:  # the runtime reports it as a function error
            raise InvocationError(f"{function.name}: {type(error).__name__}: {error}") from error
        finally:
            elapsed = time.monotonic() - started
            function.invocations += 1
            function.seconds += elapsed
            function.logs.extend(output.getvalue().splitlines())
        if elapsed > function.timeout_seconds:
            raise InvocationError(f"{function.name}: Task timed out after {function.timeout_seconds} s")
        size = len(json.dumps(response))
        if size > RESPONSE_LIMIT_BYTES:
            raise InvocationError(
                f"{function.name}: response of {size} bytes exceeds Lambda's {RESPONSE_LIMIT_BYTES}"
            )
        return json.loads(json.dumps(response))

    def _runtime_permissions(self, function: Function) -> None:
        env = self.assembly.env
        log_group_arn = env.arn("logs", f"log-group:{function.log_group}")
        stream = f"{log_group_arn}:log-stream:*"
        purpose = f"{function.name} runtime"
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            self.iam.require(function.role, action, stream, purpose=f"{purpose}: logs")
        if function.tracing:
            for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
                self.iam.require(function.role, action, "*", purpose=f"{purpose}: tracing")

    def _handler(self, function: Function) -> Callable[..., Any]:
        module_name, _, attribute = function.handler.rpartition(".")
        if function.module is None:
            path = function.code / f"{module_name.replace('.', '/')}.py"
            spec = importlib.util.spec_from_file_location(f"local_twin_lambda_{uuid.uuid4().hex}", path)
            if spec is None or spec.loader is None:
                raise InvocationError(f"{function.name}: handler module {path} not found in the asset")
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(function.code))
            try:
                with _environment(function):
                    spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(function.code))
            function.module = module
        handler: Callable[..., Any] | None = getattr(function.module, attribute, None)
        if not callable(handler):
            raise InvocationError(f"{function.name}: handler {function.handler} is not a function")
        return handler


@contextlib.contextmanager
def _environment(function: Function) -> Iterator[None]:
    variables = {
        **function.environment,
        "AWS_REGION": function.resource.env.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
    }
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
