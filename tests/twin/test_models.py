"""The SDK models at the twin's edges: request validation, response shaping, error names, static check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local_twin.models import Integration, InvalidRequest, ServiceApi, ShapeError
from local_twin.stepfunctions import check_error_names


def test_step_functions_pascal_case_parameters_validate_against_camel_case_models() -> None:
    sfn = ServiceApi("stepfunctions")
    sfn.validate(
        "listExecutions",
        {
            "StateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:p",
            "StatusFilter": "RUNNING",
            "MaxResults": 1000,
        },
    )
    with pytest.raises(InvalidRequest, match='Unknown parameter in input: "StateMachine"'):
        sfn.validate("listExecutions", {"StateMachine": "p"})
    with pytest.raises(InvalidRequest, match="Invalid type for parameter maxResults"):
        sfn.validate("listExecutions", {"StateMachineArn": "a", "MaxResults": "1000"})
    with pytest.raises(InvalidRequest, match="Missing required parameter"):
        ServiceApi("glue").validate("startCrawler", {})
    with pytest.raises(InvalidRequest, match="has no operation startCrawlers"):
        ServiceApi("glue").validate("startCrawlers", {"Name": "c"})


def test_responses_are_shaped_by_the_output_shape_in_pascal_case() -> None:
    shaped = ServiceApi("stepfunctions").shape(
        "ListExecutions",
        {
            "Executions": [
                {
                    "ExecutionArn": "e",
                    "StateMachineArn": "s",
                    "Name": "n",
                    "Status": "RUNNING",
                    "StartDate": datetime(2026, 1, 1, tzinfo=UTC),
                }
            ]
        },
    )
    # The model says executionArn; Step Functions hands the state machine ExecutionArn.
    assert shaped == {
        "Executions": [
            {
                "ExecutionArn": "e",
                "StateMachineArn": "s",
                "Name": "n",
                "Status": "RUNNING",
                "StartDate": "2026-01-01T00:00:00.000Z",
            }
        ]
    }
    with pytest.raises(ShapeError, match="not in the output shape"):
        ServiceApi("glue").shape("GetCrawler", {"Crawler": {"Name": "c", "Colour": "blue"}})
    with pytest.raises(ShapeError, match="is not one of"):
        ServiceApi("glue").shape("GetCrawler", {"Crawler": {"Name": "c", "State": "SLEEPING"}})
    with pytest.raises(ShapeError, match="required members"):
        ServiceApi("stepfunctions").shape("ListExecutions", {})


def test_error_names_follow_step_functions_prefixes_and_the_exception_suffix() -> None:
    assert (
        Integration.parse("arn:aws:states:::aws-sdk:glue:startCrawler").error("CrawlerRunningException")
        == "Glue.CrawlerRunningException"
    )
    assert (
        Integration.parse("arn:aws:states:::aws-sdk:sfn:listExecutions").error("InvalidArn")
        == "Sfn.InvalidArnException"
    )
    assert (
        Integration.parse("arn:aws:states:::glue:startJobRun.sync").error("ConcurrentRunsExceededException")
        == "Glue.ConcurrentRunsExceededException"
    )
    with pytest.raises(ShapeError, match="does not declare the error CrawlerRunningException"):
        Integration.parse("arn:aws:states:::aws-sdk:glue:getCrawler").error("CrawlerRunningException")


def test_the_static_check_flags_a_retry_or_catch_that_can_never_match() -> None:
    definition = {
        "StartAt": "Crawl",
        "States": {
            "Crawl": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
                "Retry": [
                    {
                        "ErrorEquals": [
                            "Glue.ThrottlingException",
                            "Glue.ConcurrentRunsExceededException",
                            "States.Timeout",
                        ]
                    }
                ],
                "Catch": [
                    {
                        "ErrorEquals": [
                            "Glue.CrawlerRunningException",
                            "SNS.ThrottledException",
                            "States.ALL",
                        ],
                        "Next": "Done",
                    }
                ],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    found = check_error_names("pipeline", definition)
    assert [(v.where, v.message.split(",")[0]) for v in found] == [
        ("pipeline/Crawl", "Retry names Glue.ConcurrentRunsExceededException"),
        ("pipeline/Crawl", "Catch names SNS.ThrottledException"),
    ]
