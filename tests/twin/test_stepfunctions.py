"""The States Language interpreter the twin drives: its two corrections, and the Task round trip."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from local_twin.stepfunctions import NODE, ROOT, RUNNER


def run_definition(
    definition: dict[str, Any], execution_input: dict[str, Any], answers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Runs a definition in the twin's interpreter process; Task states get ``answers[state]``."""
    messages = [
        {"op": "define", "id": "m", "definition": definition},
        {"op": "start", "definition": "m", "execution": "e", "input": execution_input, "context": {}},
    ]
    process = subprocess.Popen(
        [str(NODE), str(RUNNER)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    for message in messages:
        process.stdin.write(json.dumps(message) + "\n")
    process.stdin.flush()
    try:
        for line in process.stdout:
            reply = json.loads(line)
            if reply["op"] == "task":
                process.stdin.write(
                    json.dumps({"op": "result", "id": reply["id"], "output": (answers or {})[reply["state"]]})
                    + "\n"
                )
                process.stdin.flush()
            if reply["op"] in ("done", "fatal"):
                return dict(reply)
    finally:
        process.stdin.close()
        process.wait(timeout=10)
    raise AssertionError("the interpreter ended without a result")


def test_intrinsic_escapes_are_unescaped_and_json_to_string_stays_json() -> None:
    # As CDK writes them: the States Language escapes braces and quotes in intrinsic string literals.
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Pass",
                "Parameters": {
                    "merged.$": "States.JsonMerge(States.StringToJson('\\{\"Score\":0\\}'), $.result, false)",
                    "text.$": "States.JsonToString($.result)",
                    "quote.$": "States.Format('it\\'s {}', $.result.Name)",
                },
                "End": True,
            }
        },
    }
    result = run_definition(definition, {"result": {"Name": 'say "hi"', "Path": "a\\b"}})

    assert result["status"] == "SUCCEEDED", result
    output = result["output"]
    assert output["merged"] == {"Score": 0, "Name": 'say "hi"', "Path": "a\\b"}
    assert json.loads(output["text"]) == {"Name": 'say "hi"', "Path": "a\\b"}
    assert output["quote"] == 'it\'s say "hi"'


def test_a_task_is_answered_by_the_twin_and_its_result_selected(tmp_path: Path) -> None:
    definition = {
        "StartAt": "List",
        "States": {
            "List": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:listExecutions",
                "Parameters": {"StateMachineArn.$": "$.machine"},
                "ResultSelector": {"oldest.$": "$.Executions[-1:]"},
                "ResultPath": "$.running",
                "End": True,
            }
        },
    }
    answer = {"Executions": [{"Name": "newest"}, {"Name": "oldest"}]}
    result = run_definition(definition, {"machine": "m"}, {"List": answer})

    assert result["status"] == "SUCCEEDED"
    assert result["output"]["running"] == {"oldest": [{"Name": "oldest"}]}
