"""Amazon Data Firehose transformation: validate and normalize JSON events, return partition keys.

Firehose (Direct PUT or Kinesis-stream source) invokes :func:`handler` synchronously with a batch of
base64 records and expects every ``recordId`` back exactly once, in order, each with a ``result`` and
base64 ``data``. Only record data is validated; the event envelope is Firehose's own and is trusted.

Record schema
-------------
A record holds one JSON object, or newline-delimited JSON objects (blank lines ignored). Each object:

``event_id``
    Required. A non-empty string of at most 256 characters.
``event_type``
    Required. A string fully matching ``[a-z0-9][a-z0-9_-]{0,63}``. It becomes an S3 prefix
    (``event_type=<value>/``), so path separators, dots and upper case are refused.
``event_time``
    Required. Either an ISO-8601 date-time string ``YYYY-MM-DD(T| )hh:mm[:ss[.fff]]`` (1-9 fraction
    digits) followed by ``Z``, an offset ``+hh:mm``, ``+hhmm`` or ``+hh`` (or ``-``), or nothing, which
    means UTC; or epoch seconds or epoch milliseconds as a JSON number (numbers above 1e11 are
    milliseconds; booleans are not numbers). Rewritten as ISO-8601 UTC with millisecond precision,
    e.g. ``2026-11-23T09:30:00.000Z``: sub-millisecond digits of strings are truncated, epoch floats
    are rounded to the nearest millisecond (their binary value only approximates the decimal sent).
    Date-only strings are refused: an event time needs a time.

All other fields pass through unchanged, in their original order; nothing is added.

Results
-------
``Ok``
    ``data`` is one compact JSON line per object, each newline-terminated, and
    ``metadata.partitionKeys`` is ``{"event_type": ...}``. All objects of a record must share it: a
    record cannot be split across partitions. (The raw zone is partitioned by arrival date, which
    Firehose supplies; the ETL job re-partitions by event date, so events of one record may span days.)
``ProcessingFailed``
    ``data`` is the record's original data, unchanged, so Firehose writes it under the error prefix;
    a bad object fails its whole record. Reasons, logged and counted per record:

    ``invalid_base64``, ``invalid_utf8``, ``invalid_json`` (including NaN/Infinity and numbers beyond
    float range, which would not round-trip as JSON), ``not_an_object``, ``missing_field``,
    ``invalid_field``, ``empty_record`` (nothing but whitespace), ``oversize_record`` (decoded data
    longer than ``MAX_RECORD_BYTES``), ``mixed_partition_keys``, ``response_size_limit`` (see below),
    ``internal_error`` (an unexpected exception, caught per record: it never fails the batch).
``Dropped``
    Never returned: no record is discarded silently.

Response size
-------------
Lambda caps a synchronous response at 6,291,456 bytes. The response is sized as it is built (as JSON
with the widest separators and ASCII escapes, an upper bound of what the runtime sends). If it would
exceed ``RESPONSE_BUDGET_BYTES``, the first ``Ok`` record that does not fit, while leaving room for every
later record to fail with its original data, and all later ``Ok`` records are returned as
``ProcessingFailed`` (``response_size_limit``) with their original data; later records that failed for
another reason keep it. A failed entry is no larger than the record's entry in the request, which is
at most 6 MB, so the response always stays under Lambda's limit.

Configuration (environment variables, read per invocation)
----------------------------------------------------------
``MAX_RECORD_BYTES`` (default 1,024,000: Firehose's record limit, 1,000 KiB),
``RESPONSE_BUDGET_BYTES`` (default 6,000,000; capped at Lambda's limit),
``METRICS_NAMESPACE`` (default ``DataPlatform/FirehoseTransform``),
``SERVICE_NAME`` (default ``firehose-transform``, the metrics' ``Service`` dimension).
A limit that is not a positive integer fails the invocation: that is a misconfiguration, not bad data.

Observability
-------------
One JSON log line per failed record (reason, detail, recordId, invocationId; never record content),
one CloudWatch Embedded Metric Format line per invocation (``RecordsIn``, ``RecordsOk``,
``RecordsFailed`` and ``Failed_<reason>`` for each reason that occurred), and one summary line.
Standard library only, to keep cold starts short.
"""

from __future__ import annotations

import binascii
import json
import os
import re
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from json.encoder import encode_basestring_ascii
from typing import Any

# --- schema ---
REQUIRED_FIELDS = ("event_id", "event_type", "event_time")
EVENT_ID_MAX_LENGTH = 256
# Matched in full (re.fullmatch): `^...$` with re.match would accept a trailing newline.
EVENT_TYPE_PATTERN = r"[a-z0-9][a-z0-9_\-]{0,63}"
EPOCH_MILLIS_THRESHOLD = 100_000_000_000  # 1e11: larger epoch numbers are milliseconds (1e11 s is year 5138)

# --- results and failure reasons ---
OK = "Ok"
PROCESSING_FAILED = "ProcessingFailed"
REASONS = (
    "invalid_base64",
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "missing_field",
    "invalid_field",
    "empty_record",
    "oversize_record",
    "mixed_partition_keys",
    "response_size_limit",
    "internal_error",
)

# --- limits and configuration ---
DEFAULT_MAX_RECORD_BYTES = 1_000 * 1024  # Firehose's record limit: 1,000 KiB before base64
LAMBDA_RESPONSE_LIMIT_BYTES = 6_291_456
DEFAULT_RESPONSE_BUDGET_BYTES = 6_000_000  # margin under the hard limit
DEFAULT_METRICS_NAMESPACE = "DataPlatform/FirehoseTransform"
DEFAULT_SERVICE_NAME = "firehose-transform"

_EVENT_TYPE_MATCH = re.compile(EVENT_TYPE_PATTERN).fullmatch
# Shape check first: fromisoformat alone also takes date-only, week dates and any separator character.
# Groups: the local date-time, then the offset.
_ISO_MATCH = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?)"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
).fullmatch
_EPOCH = datetime(1970, 1, 1)
_offsets: dict[str, timedelta] = {}  # bounded: only valid offsets (at most 24 * 60 * 2 * 3 spellings)

_decode_json = json.JSONDecoder().decode
# allow_nan=False: NaN/Infinity (or 1e400, parsed as inf) would be written out as invalid JSON.
_encode_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_encode_json_ascii = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode
_encode_log = json.JSONEncoder(separators=(",", ":")).encode
_a2b_base64 = binascii.a2b_base64
_b2a_base64 = binascii.b2a_base64


def _serialized_size(value: object) -> int:
    # Default separators (", ", ": ") and ASCII escapes: the widest form the runtime may serialize.
    return len(json.dumps(value))


_ENVELOPE_SIZE = _serialized_size({"records": []})
_ENTRY_SEPARATOR_SIZE = len(", ")
# An entry's size with empty strings; the strings' own lengths are added per record.
_OK_ENTRY_SIZE = _ENTRY_SEPARATOR_SIZE + _serialized_size(
    {
        "recordId": "",
        "result": OK,
        "data": "",
        "metadata": {"partitionKeys": {"event_type": ""}},
    }
)
_FAILED_ENTRY_SIZE = _ENTRY_SEPARATOR_SIZE + _serialized_size(
    {"recordId": "", "result": PROCESSING_FAILED, "data": ""}
)


class RecordError(Exception):
    """A record that cannot be delivered: it goes to the error prefix, with this reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def handler(event: Mapping[str, Any], context: object = None) -> dict[str, list[dict[str, Any]]]:
    """Firehose data-transformation entry point: one output entry per input record, same order."""
    invocation = _Invocation(event)
    records: list[Mapping[str, Any]] = event.get("records") or []
    max_record_bytes = _positive_int_env("MAX_RECORD_BYTES", DEFAULT_MAX_RECORD_BYTES)
    budget = min(
        _positive_int_env("RESPONSE_BUDGET_BYTES", DEFAULT_RESPONSE_BUDGET_BYTES), LAMBDA_RESPONSE_LIMIT_BYTES
    )

    entries: list[dict[str, Any]] = []
    sizes: list[int] = []  # each entry's serialized size, for the budget
    for record in records:
        record_id = record["recordId"]
        data = record.get("data")
        try:
            encoded, event_type = _transform(data, max_record_bytes)
        except RecordError as error:
            entry, size = invocation.fail(record_id, data, error.reason, error.detail)
        except Exception as error:  # anything unforeseen fails this record only, never the batch
            entry, size = invocation.fail(record_id, data, "internal_error", _where(error))
        else:
            entry = {
                "recordId": record_id,
                "result": OK,
                "data": encoded,
                "metadata": {"partitionKeys": {"event_type": event_type}},
            }
            # encoded and event_type are plain ASCII: their JSON length is their length plus quotes.
            size = _OK_ENTRY_SIZE + _json_length(record_id) - 2 + len(encoded) + len(event_type)
        entries.append(entry)
        sizes.append(size)

    response_size = _ENVELOPE_SIZE + sum(sizes)
    if response_size > budget:
        response_size = _fit_budget(invocation, records, entries, sizes, budget)
    invocation.report(len(records), response_size)
    return {"records": entries}


# --- per record ---


def _transform(data: object, max_record_bytes: int) -> tuple[str, str]:
    """Returns (base64 output data, event_type), or raises RecordError."""
    if type(data) is not str:
        raise RecordError("invalid_base64", "data is not a string")
    try:
        # strict_mode: Firehose sends canonical padded base64; anything else is not what was put.
        raw = _a2b_base64(data, strict_mode=True)
    except ValueError as error:  # binascii.Error, or non-ASCII characters
        raise RecordError("invalid_base64", str(error)) from None
    if len(raw) > max_record_bytes:
        raise RecordError("oversize_record", f"{len(raw)} bytes > MAX_RECORD_BYTES {max_record_bytes}")
    try:
        text = raw.decode()
    except UnicodeDecodeError as error:
        raise RecordError("invalid_utf8", f"{error.reason} at byte {error.start}") from None

    try:
        value = _decode_json(text)
    except json.JSONDecodeError as error:
        # "Extra data" after a complete first value with a newline in between: newline-delimited.
        if error.msg == "Extra data" and "\n" in text:
            return _transform_lines(text)
        if not text or text.isspace():
            raise RecordError("empty_record", "no JSON object in the record") from None
        raise RecordError("invalid_json", _json_error(error)) from None
    except (ValueError, RecursionError) as error:  # e.g. an integer over the digit limit, deep nesting
        raise RecordError("invalid_json", type(error).__name__) from None

    if type(value) is not dict:
        raise RecordError("not_an_object", f"a JSON {_json_type(value)}")
    event_type = _normalize(value)
    return _b2a_base64(_json_line(value), newline=False).decode("ascii"), event_type


def _transform_lines(text: str) -> tuple[str, str]:
    """Newline-delimited objects: all must be valid and share the event_type partition key."""
    lines: list[bytes] = []
    event_type: str | None = None
    first_line = 0
    for number, line in enumerate(text.split("\n"), 1):
        if not line or line.isspace():
            continue
        try:
            value = _decode_json(line)
        except json.JSONDecodeError as error:
            raise RecordError("invalid_json", f"line {number}: {_json_error(error)}") from None
        except (ValueError, RecursionError) as error:
            raise RecordError("invalid_json", f"line {number}: {type(error).__name__}") from None
        if type(value) is not dict:
            raise RecordError("not_an_object", f"line {number}: a JSON {_json_type(value)}")
        try:
            line_type = _normalize(value)
            lines.append(_json_line(value))
        except RecordError as error:
            raise RecordError(error.reason, f"line {number}: {error.detail}") from None
        if event_type is None:
            event_type, first_line = line_type, number
        elif line_type != event_type:
            detail = f"line {number}: event_type differs from line {first_line}"
            raise RecordError("mixed_partition_keys", detail)
    if event_type is None:  # unreachable: only called after a first value decoded
        raise RecordError("empty_record", "no JSON object in the record")
    return _b2a_base64(b"".join(lines), newline=False).decode("ascii"), event_type


def _normalize(obj: dict[str, Any]) -> str:
    """Validates the schema in place, rewriting event_time; returns the event_type."""
    event_id = obj.get("event_id")
    if type(event_id) is not str or not 0 < len(event_id) <= EVENT_ID_MAX_LENGTH:
        requirement = f"must be a non-empty string of at most {EVENT_ID_MAX_LENGTH} characters"
        raise _field_error(obj, "event_id", requirement)
    event_type = obj.get("event_type")
    if type(event_type) is not str or _EVENT_TYPE_MATCH(event_type) is None:
        raise _field_error(obj, "event_type", f"must be a string fully matching {EVENT_TYPE_PATTERN}")
    event_time = obj.get("event_time")
    kind = type(event_time)  # exact types: bool is a subclass of int but not a time
    if kind is str:
        normalized = _iso_to_utc(event_time)
    elif kind is int or kind is float:
        normalized = _epoch_to_utc(event_time)
    else:
        normalized = None
    if normalized is None:
        raise _field_error(
            obj, "event_time", "must be an ISO-8601 date-time or epoch seconds/milliseconds in years 1-9999"
        )
    obj["event_time"] = normalized
    return event_type


def _field_error(obj: dict[str, Any], field: str, requirement: str) -> RecordError:
    if field not in obj:
        return RecordError("missing_field", field)
    return RecordError("invalid_field", f"{field}: {requirement}")


def _iso_to_utc(value: str) -> str | None:
    match = _ISO_MATCH(value)
    if match is None:
        return None
    local, offset = match.groups()
    try:
        moment = datetime.fromisoformat(local)
        if offset is None or offset == "Z":
            if len(local) == 23 and local[10] == "T":
                return local + "Z"  # already canonical, and now known to be a real date: skip formatting
        else:
            delta = _offsets.get(offset)
            moment -= _offset(offset) if delta is None else delta
    except (ValueError, OverflowError):  # e.g. month 13, offset +25:00, beyond year 1-9999 once in UTC
        return None
    return moment.isoformat("T", "milliseconds") + "Z"


def _offset(text: str) -> timedelta:
    """The UTC offset of an ISO suffix, validated by the standard parser and then cached."""
    delta = datetime.fromisoformat("2000-01-01T00:00:00" + text).utcoffset()
    if delta is None:  # cannot happen for a suffix the regex accepted; keeps the type exact
        raise ValueError(f"not a UTC offset: {text}")
    _offsets[text] = delta
    return delta


def _epoch_to_utc(value: int | float) -> str | None:
    try:
        if type(value) is int:
            millis = value if value > EPOCH_MILLIS_THRESHOLD else value * 1000
        else:
            millis = round(value) if value > EPOCH_MILLIS_THRESHOLD else round(value * 1000)
        moment = _EPOCH + timedelta(0, 0, 0, millis)  # positional (days, seconds, µs, ms): faster
    except (OverflowError, ValueError):  # out of range, or a float that is inf/nan
        return None
    return moment.isoformat("T", "milliseconds") + "Z"


def _json_line(obj: dict[str, Any]) -> bytes:
    try:
        line = _encode_json(obj) + "\n"
    except ValueError:
        raise RecordError("invalid_json", "a number is NaN, Infinity or beyond float range") from None
    try:
        return line.encode()
    except UnicodeEncodeError:
        # A lone surrogate escape ("\ud800") parsed from the input cannot be UTF-8: keep it escaped.
        return (_encode_json_ascii(obj) + "\n").encode()


def _json_error(error: json.JSONDecodeError) -> str:
    return f"{error.msg} at line {error.lineno} column {error.colno}"


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", type(None): "null"}.get(type(value), type(value).__name__)


def _where(error: BaseException) -> str:
    """An exception's type and innermost location: enough to debug, and never record content."""
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    if trace is None:
        return type(error).__name__
    return f"{type(error).__name__} in {trace.tb_frame.f_code.co_name} line {trace.tb_lineno}"


# --- failures and the response budget ---


class _Invocation:
    """One invocation's identity and failure counts, for its log lines and metrics."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.started = time.perf_counter()
        self.invocation_id = str(event.get("invocationId", ""))
        self.delivery_stream_arn = event.get("deliveryStreamArn")
        self.source_stream_arn = event.get("sourceKinesisStreamArn")
        self.failures: dict[str, int] = {}

    def fail(self, record_id: str, data: object, reason: str, detail: str) -> tuple[dict[str, Any], int]:
        """The failed entry, carrying the original data, and its size; logs and counts the failure."""
        original = data if type(data) is str else ""
        self.failures[reason] = self.failures.get(reason, 0) + 1
        _log(
            "WARNING",
            "record failed",
            reason=reason,
            detail=detail,
            recordId=record_id,
            invocationId=self.invocation_id,
        )
        entry = {"recordId": record_id, "result": PROCESSING_FAILED, "data": original}
        return entry, _failed_size(record_id, original)

    def report(self, records_in: int, response_size: int) -> None:
        """One EMF metrics line and one summary line."""
        failures = dict(sorted(self.failures.items()))
        failed = sum(failures.values())
        metrics = {"RecordsIn": records_in, "RecordsOk": records_in - failed, "RecordsFailed": failed}
        metrics.update((f"Failed_{reason}", count) for reason, count in failures.items())
        print(_encode_log(_emf(metrics, self.invocation_id)))
        _log(
            "INFO",
            "batch processed",
            invocationId=self.invocation_id,
            deliveryStreamArn=self.delivery_stream_arn,
            sourceKinesisStreamArn=self.source_stream_arn,
            recordsIn=records_in,
            recordsOk=records_in - failed,
            recordsFailed=failed,
            failures=failures,
            responseBytes=response_size,
            durationMs=round((time.perf_counter() - self.started) * 1000, 3),
        )


def _json_length(text: str) -> int:
    """Length of a string as JSON with ASCII escapes (an upper bound of its UTF-8 size), with quotes."""
    return len(encode_basestring_ascii(text))


def _failed_size(record_id: str, original: object) -> int:
    text = original if type(original) is str else ""
    return _FAILED_ENTRY_SIZE + _json_length(record_id) - 2 + _json_length(text) - 2


def _fit_budget(
    invocation: _Invocation,
    records: list[Mapping[str, Any]],
    entries: list[dict[str, Any]],
    sizes: list[int],
    budget: int,
) -> int:
    """Fails Ok entries from the first that does not fit, leaving room for the rest to fail; new size."""
    failed_sizes = [_failed_size(record["recordId"], record.get("data")) for record in records]
    rest = sum(failed_sizes)  # what all later records take if they fail
    used = _ENVELOPE_SIZE
    cut = len(entries)
    for index, entry in enumerate(entries):
        rest -= failed_sizes[index]
        if entry["result"] == OK and used + sizes[index] + rest > budget:
            cut = index
            break
        used += sizes[index]
    detail = f"response would exceed RESPONSE_BUDGET_BYTES {budget}"
    for index in range(cut, len(entries)):
        if entries[index]["result"] == OK:  # later records that failed validation keep their reason
            record = records[index]
            entries[index], sizes[index] = invocation.fail(
                record["recordId"], record.get("data"), "response_size_limit", detail
            )
    return _ENVELOPE_SIZE + sum(sizes)


# --- configuration and observability ---


def _positive_int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:  # a misconfiguration: fail loudly rather than guess a limit
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _log(level: str, message: str, **fields: object) -> None:
    print(_encode_log({"level": level, "message": message, **fields}))


def _emf(metrics: Mapping[str, int], invocation_id: str) -> dict[str, Any]:
    """A CloudWatch Embedded Metric Format document: Lambda's log pipeline turns it into metrics."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": os.environ.get("METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE,
                    "Dimensions": [["Service"]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in metrics],
                }
            ],
        },
        "Service": os.environ.get("SERVICE_NAME") or DEFAULT_SERVICE_NAME,
        **metrics,
        "invocationId": invocation_id,  # a property, not a dimension: searchable, adds no metric
    }
