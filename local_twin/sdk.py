"""AWS SDK calls made by code the twin runs (a Glue script registering partitions), answered by the twin.

While a job runs, ``boto3.client(service)`` returns a real botocore client (so botocore itself validates
every request against the service model and parses every answer) whose calls never leave the process:
a ``before-call`` hook hands each request to the twin's handler for that operation, as the job's role,
and returns its answer or its error (a ``ClientError`` with the model's code; a request the role's
policies do not allow is ``AccessDeniedException``). An operation the twin
does not answer is an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from local_twin.iam import AccessDenied

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class SdkError(Exception):
    """An error answer: ``code`` as the service's model names it."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _client_factory(region: str, handlers: Mapping[tuple[str, str], Handler]) -> Callable[..., Any]:
    session = boto3.session.Session(
        aws_access_key_id="twin", aws_secret_access_key="twin", region_name=region
    )

    def client(service_name: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("region_name", None)
        made = session.client(service_name, *args, region_name=region, **kwargs)
        service = made.meta.service_model.service_name

        def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["twin_params"] = dict(params)

        def answer(model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            handler = handlers.get((service, model.name))
            if handler is None:
                message = f"the twin does not answer {service}.{model.name} from a job's SDK client"
                raise NotImplementedError(message)
            try:
                parsed = handler(context["twin_params"])
                status = 200
            except SdkError as error:
                parsed = {"Error": {"Code": error.code, "Message": error.message}}
                status = error.status
            except AccessDenied as denied:  # as the SDK sees a denial: an error answer, not a crash
                parsed = {"Error": {"Code": "AccessDeniedException", "Message": str(denied)}}
                status = 400
            parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "RequestId": "twin"}
            return AWSResponse("https://twin.local", status, {}, None), parsed

        made.meta.events.register("before-parameter-build.*.*", keep_params)
        made.meta.events.register("before-call.*.*", answer)
        return made

    return client


@contextmanager
def answered_by(region: str, handlers: Mapping[tuple[str, str], Handler]) -> Iterator[None]:
    """``boto3.client`` makes clients answered by ``handlers`` ((service, Operation) -> handler) while the
    block runs."""
    saved = boto3.client
    boto3.client = _client_factory(region, handlers)
    try:
        yield
    finally:
        boto3.client = saved
