"""Step Functions: the synthesized state machines, executed by a local States Language interpreter.

The definition is the template's ``DefinitionString``, resolved; ``aws-local-stepfunctions`` (Node 22,
``sfn_runner.mjs``) runs it, and every Task state comes back here: its ``Resource`` names the integration
(``aws-sdk:glue:startCrawler``, ``glue:startJobRun.sync``, ``sns:publish`` ...), its parameters are
validated against the service's SDK model, the state machine's role is checked by the service twin that
answers, and the answer is shaped by the model's output shape (PascalCase, as SDK integrations return
it). An error is raised with the name Step Functions gives it (``Glue.CrawlerRunningException``).

``check_error_names`` is the static check: a Retry or Catch naming an error (outside ``States.*``) that
the Task's operation cannot raise never matches; it is reported before anything runs.

Executions are kept here, so ``ListExecutions`` (most recent first, as AWS returns them) sees every
execution the twin started, including ones started while another runs.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local_twin.assembly import CloudAssembly, Resource
from local_twin.iam import AccessDenied, PolicyEngine
from local_twin.models import Integration, InvalidRequest, ServiceApi, ShapeError, exception_name

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "sfn_runner.mjs"
NODE = ROOT / "node_modules" / ".bin" / "node"


class ServiceError(Exception):
    """A service's error response: ``code`` as the service's model names it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class TaskFailed(Exception):  # noqa: N818 (Step Functions' own error name)
    """An integration's own failure, raised as ``error`` (e.g. ``States.TaskFailed`` of a ``.sync`` job)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class TwinError(Exception):
    """The interpreter or a twin failed in a way no AWS execution would (a bug, an unsupported feature)."""


@dataclass(frozen=True)
class TaskContext:
    machine: StateMachine
    execution: Execution
    state: str
    integration: Integration

    @property
    def role(self) -> str:
        return self.machine.role

    @property
    def purpose(self) -> str:
        return f"{self.machine.name}/{self.state}"


Handler = Callable[[TaskContext, dict[str, Any]], dict[str, Any]]


@dataclass
class StateMachine:
    resource: Resource
    name: str
    arn: str
    role: str
    definition: dict[str, Any]
    tracing: bool


@dataclass
class Execution:
    arn: str
    name: str
    machine: StateMachine
    input: Any
    start: datetime
    started_by: str
    status: str = "RUNNING"
    stop: datetime | None = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    path: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Violation:
    """A request AWS would reject, a Retry/Catch that can never match, or a twin shape error."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def task_states(states: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from task_states(branch["States"])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from task_states(processor["States"])


def check_error_names(machine_name: str, definition: Mapping[str, Any]) -> list[Violation]:
    """Every Retry/Catch error name (outside ``States.*``) each Task's operation cannot raise."""
    found = []
    for name, state in task_states(definition["States"]):
        integration = Integration.parse(state["Resource"])
        raisable = integration.raisable()
        for field_name in ("Retry", "Catch"):
            for entry in state.get(field_name, []):
                for error in entry["ErrorEquals"]:
                    if not error.startswith("States.") and error not in raisable:
                        found.append(
                            Violation(
                                f"{machine_name}/{name}",
                                f"{field_name} names {error}, which "
                                f"{integration.service}:{integration.action} cannot "
                                f"raise (it raises {integration.prefix}.<its model's errors or the SDK's "
                                "throttling codes>)",
                            )
                        )
    return found


class StepFunctions:
    """Every state machine of the assembly, one interpreter process, and the executions."""

    def __init__(
        self, assembly: CloudAssembly, iam: PolicyEngine, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.assembly = assembly
        self.iam = iam
        self.clock = clock or (lambda: datetime.now(UTC))
        self.handlers: dict[tuple[str, str], Handler] = {("sfn", "listExecutions"): self._list_executions}
        self.hooks: list[Callable[[TaskContext, dict[str, Any]], None]] = []
        self.executions: dict[str, Execution] = {}
        self.violations: list[Violation] = []
        self.machines: dict[str, StateMachine] = {}
        for resource in assembly.resources("AWS::StepFunctions::StateMachine"):
            props = resource.properties
            definition = props.get("DefinitionString") or json.dumps(props.get("Definition"))
            for key, value in props.get("DefinitionSubstitutions", {}).items():
                definition = definition.replace("${" + key + "}", str(value))
            machine = StateMachine(
                resource=resource,
                name=resource.name,
                arn=resource.ref,
                role=str(props["RoleArn"]),
                definition=json.loads(definition),
                tracing=bool(props.get("TracingConfiguration", {}).get("Enabled")),
            )
            self.machines[machine.arn] = machine
            self.violations += check_error_names(machine.name, machine.definition)
        self._id = uuid.uuid4().hex  # this twin's definitions in the shared interpreter
        self._defined = False
        self._generation = -1
        self._last_start = datetime.fromtimestamp(0, UTC)

    # --- the interpreter process (one per Python process, shared by every twin in it) ---

    def _interpreter(self) -> _Interpreter:
        interpreter = _Interpreter.shared()
        if not self._defined or interpreter.generation != self._generation:
            for machine in self.machines.values():
                interpreter.define(f"{self._id}:{machine.arn}", machine.definition)
            self._defined, self._generation = True, interpreter.generation
        return interpreter

    def _send(self, message: Mapping[str, Any]) -> None:
        self._interpreter().write(message)

    def _receive(self) -> dict[str, Any]:
        return self._interpreter().receive()

    def close(self) -> None:
        """Leaves the shared interpreter as it was, unless an execution of this twin is still running
        there (a scenario stopped midway): then it is stopped, and the next twin starts a new one."""
        if self.running():
            _Interpreter.stop_shared()

    # --- executions ---

    def start_execution(
        self, caller: str, machine_arn: str, execution_input: Any, why: str = "", name: str | None = None
    ) -> str:
        """StartExecution, as ``caller`` (authorized by whoever calls: EventBridge checks its role)."""
        if machine_arn not in self.machines:
            raise InvalidRequest(f"StateMachineDoesNotExist: {machine_arn}")
        machine = self.machines[machine_arn]
        self.iam.assume(
            machine.role, "states.amazonaws.com", source_arn=machine.arn, purpose=f"{machine.name} execution"
        )
        name = name or str(uuid.uuid4())
        arn = machine.arn.replace(":stateMachine:", ":execution:") + f":{name}"
        start = max(self.clock(), self._last_start + timedelta(milliseconds=1))
        self._last_start = start
        execution = Execution(
            arn, name, machine, execution_input, start, f"{caller} ({why})" if why else caller
        )
        self.executions[arn] = execution
        if machine.tracing:
            self.iam.require(machine.role, "xray:PutTraceSegments", "*", purpose=f"{machine.name} tracing")
        context = {
            "Execution": {"Id": arn, "Name": name, "RoleArn": machine.role, "StartTime": _iso(start)},
            "StateMachine": {"Id": machine.arn, "Name": machine.name},
        }
        self._send(
            {
                "op": "start",
                "definition": f"{self._id}:{machine.arn}",
                "execution": arn,
                "input": execution_input,
                "context": context,
            }
        )
        return arn

    def running(self) -> list[Execution]:
        return [e for e in self.executions.values() if e.status == "RUNNING"]

    def wait(self, arns: list[str] | None = None) -> None:
        """Serves the interpreter until the given executions (default: all running) have ended."""

        def pending() -> bool:
            wanted = arns if arns is not None else [e.arn for e in self.running()]
            return any(self.executions[a].status == "RUNNING" for a in wanted)

        while pending():
            self._serve_one()

    def _serve_one(self) -> None:
        message = self._receive()
        op = message.get("op")
        if op == "task":
            self._task(message)
        elif op == "event":
            execution = self.executions[message["execution"]]
            execution.events.append(message)
            if message.get("type") == "StateEntered":
                execution.path.append(message["state"])
        elif op == "done":
            execution = self.executions[message["execution"]]
            execution.status = message["status"]
            execution.stop = self.clock()
            execution.output = message.get("output")
            execution.error = message.get("error")
            execution.cause = message.get("cause")
        elif op != "log":
            raise TwinError(f"unexpected interpreter message {message}")

    def _task(self, message: Mapping[str, Any]) -> None:
        execution = self.executions[message["execution"]]
        machine = execution.machine
        state = str(message["state"])
        params = message.get("input")
        record: dict[str, Any] = {"state": state, "resource": message["resource"]}
        execution.tasks.append(record)
        reply: dict[str, Any] = {"op": "result", "id": message["id"]}
        try:
            integration = Integration.parse(str(message["resource"]))
            record["integration"] = f"{integration.service}:{integration.action}" + (
                f".{integration.pattern}" if integration.pattern else ""
            )
            if not isinstance(params, dict):
                raise InvalidRequest(f"task parameters must be an object, got {type(params).__name__}")
            context = TaskContext(machine, execution, state, integration)
            request = _request(integration, params)
            api: ServiceApi = integration.api
            api.validate(integration.action, request)
            handler = self.handlers.get(
                (
                    integration.service,
                    integration.action + (f".{integration.pattern}" if integration.pattern else ""),
                )
            )
            if handler is None:
                raise TwinError(
                    f"{machine.name}/{state}: no twin answers {integration.service}:{integration.action}"
                )
            for hook in list(self.hooks):
                hook(context, request)
            output = handler(context, request)
            if integration.kind == "sdk":
                output = api.shape(integration.action, output)
            reply["output"] = output
            record["outcome"] = "ok"
        except InvalidRequest as error:
            violation = Violation(
                f"{machine.name}/{state}", f"request rejected by the service model: {error}"
            )
            self.violations.append(violation)
            reply.update(error="States.Runtime", cause=str(violation))
            record["outcome"] = f"invalid request: {error}"
        except ShapeError as error:
            violation = Violation(
                f"{machine.name}/{state}", f"twin response breaks the service model: {error}"
            )
            self.violations.append(violation)
            reply.update(error="States.Runtime", cause=str(violation))
            record["outcome"] = str(violation)
        except AccessDenied as denied:
            integration = Integration.parse(str(message["resource"]))
            reply.update(
                error=exception_name(integration.prefix, "AccessDeniedException"),
                cause=f"{denied.decision.message} (Service: {integration.prefix}, Status Code: 403)",
            )
            record["outcome"] = f"access denied: {denied.decision.message}"
        except ServiceError as error:
            integration = Integration.parse(str(message["resource"]))
            reply.update(
                error=integration.error(error.code),
                cause=f"{error.message} (Service: {integration.prefix}, Status Code: 400, "
                f"Request ID: {uuid.uuid4()})",
            )
            record["outcome"] = f"{reply['error']}: {error.message}"
        except TaskFailed as failure:
            reply.update(error=failure.error, cause=failure.cause)
            record["outcome"] = f"{failure.error}"
        self._send(reply)

    # --- Step Functions' own API (the guard's ListExecutions) ---

    def _list_executions(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        machine_arn = str(params["StateMachineArn"])
        self.iam.require(ctx.role, "states:ListExecutions", machine_arn, purpose=ctx.purpose)
        if machine_arn not in self.machines:
            raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine_arn}'")
        limit = int(params.get("MaxResults", 0)) or 100
        if limit > 1000:
            raise ServiceError("ValidationException", "maxResults must be at most 1000")
        status = params.get("StatusFilter")
        listed = sorted(
            (
                e
                for e in self.executions.values()
                if e.machine.arn == machine_arn and (status is None or e.status == status)
            ),
            key=lambda e: e.start,
            reverse=True,  # "Results are sorted by time, with the most recent execution first."
        )
        page = listed[:limit]
        response: dict[str, Any] = {
            "Executions": [
                {
                    "ExecutionArn": e.arn,
                    "StateMachineArn": machine_arn,
                    "Name": e.name,
                    "Status": e.status,
                    "StartDate": e.start,
                    **({"StopDate": e.stop} if e.stop else {}),
                }
                for e in page
            ]
        }
        if len(listed) > limit:
            response["NextToken"] = uuid.uuid4().hex
        return response


class _Interpreter:
    """The Node process running ``sfn_runner.mjs``; one per Python process (starting one costs ~0.3 s)."""

    _shared: _Interpreter | None = None
    _generations = 0

    def __init__(self) -> None:
        if not NODE.exists():
            raise TwinError(
                f"{NODE} is missing: run `make install` (the pinned Node 22 and aws-local-stepfunctions)"
            )
        self.process = subprocess.Popen(
            [str(NODE), str(RUNNER)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        _Interpreter._generations += 1
        self.generation = _Interpreter._generations
        self.expect("ready")

    @classmethod
    def shared(cls) -> _Interpreter:
        if cls._shared is None or cls._shared.process.poll() is not None:
            cls._shared = cls()
            atexit.register(cls._shared.stop)
        return cls._shared

    @classmethod
    def stop_shared(cls) -> None:
        if cls._shared is not None:
            cls._shared.stop()
        cls._shared = None

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def define(self, definition_id: str, definition: Mapping[str, Any]) -> None:
        self.write({"op": "define", "id": definition_id, "definition": definition})
        self.expect("defined")

    def write(self, message: Mapping[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise TwinError(f"the States Language interpreter stopped (exit code {self.process.poll()})")
        message: dict[str, Any] = json.loads(line)
        if message.get("op") == "fatal":
            raise TwinError(f"interpreter: {message.get('message')}")
        return message

    def expect(self, op: str) -> dict[str, Any]:
        message = self.receive()
        if message.get("op") != op:
            raise TwinError(f"interpreter answered {message} where {op} was expected")
        return message


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _request(integration: Integration, params: dict[str, Any]) -> dict[str, Any]:
    """The API request an integration sends for a Task's parameters. The optimized SNS integration
    sends a JSON ``Message`` as its (compact) JSON text."""
    if (
        integration.kind == "optimized"
        and integration.service == "sns"
        and not isinstance(params.get("Message"), str)
    ):
        return {**params, "Message": json.dumps(params.get("Message"), separators=(",", ":"))}
    return dict(params)
