"""The wire models: round trips, forward compatibility, timestamps, the official schemas."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from rxbatches import (
    CacheMissReason,
    DeletedMessageBatch,
    Diagnostics,
    ErrorObject,
    ErrorResponse,
    Message,
    MessageBatch,
    MessageBatchCanceledResult,
    MessageBatchErroredResult,
    MessageBatchExpiredResult,
    MessageBatchIndividualResponse,
    MessageBatchPage,
    MessageBatchRequestCounts,
    MessageBatchSucceededResult,
    MessageBatchUnknownResult,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    UnknownContentBlock,
    Usage,
)
from rxbatches._base.models import WireModel
from tests import strategies as wire
from tests.conftest import REFERENCE_DIR

StrategyFactory = Callable[..., st.SearchStrategy[dict[str, Any]]]

TOP_LEVEL: list[tuple[type[WireModel], StrategyFactory]] = [
    (MessageBatch, wire.message_batches),
    (MessageBatchPage, wire.message_batch_pages),
    (DeletedMessageBatch, wire.deleted_message_batches),
    (ErrorResponse, wire.error_envelopes),
    (Message, wire.messages),
    (MessageBatchIndividualResponse, wire.individual_responses),
]
FLAGS = st.fixed_dictionaries(
    {"extras": st.booleans(), "unknown": st.booleans(), "sparse": st.booleans()}
)


def canonical(value: Any) -> str:
    """JSON text with sorted keys: unlike ==, tells 1 from 1.0 and True from 1."""
    return json.dumps(value, sort_keys=True)


def batch_payload(**changes: Any) -> dict[str, Any]:
    """A fixed, ended MessageBatch as the API sends it."""
    payload = {
        "id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message_batch",
        "processing_status": "ended",
        "request_counts": {
            "processing": 0,
            "succeeded": 3,
            "errored": 1,
            "canceled": 0,
            "expired": 1,
        },
        "created_at": "2024-08-20T18:37:24.100435Z",
        "expires_at": "2024-08-21T18:37:24.100435Z",
        "ended_at": "2024-08-20T18:40:01.000001Z",
        "cancel_initiated_at": None,
        "archived_at": None,
        "results_url": "https://api.anthropic.com/v1/messages/batches/msgbatch_013Zva2CMHLNnXjNJJKqJ2EF/results",
    }
    payload.update(changes)
    return payload


def message_payload(**changes: Any) -> dict[str, Any]:
    payload = {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-5",
        "content": [{"type": "text", "text": "Hi! My name is Claude.", "citations": None}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 2095, "output_tokens": 503},
    }
    payload.update(changes)
    return payload


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(("model", "strategy"), TOP_LEVEL, ids=[m.__name__ for m, _ in TOP_LEVEL])
@given(data=st.data())
def test_parse_then_dump_gives_back_the_wire_payload(
    model: type[WireModel], strategy: StrategyFactory, data: st.DataObject
) -> None:
    payload = data.draw(strategy(**data.draw(FLAGS, label="flags")), label="payload")
    text = json.dumps(payload)

    parsed = model.model_validate_json(text)

    assert parsed.to_wire() == payload
    assert canonical(parsed.to_wire()) == canonical(payload)
    assert json.loads(parsed.model_dump_json(by_alias=True, exclude_unset=True)) == payload
    assert canonical(model.model_validate(payload).to_wire()) == canonical(payload)


@given(line=wire.individual_responses(extras=True, unknown=True, sparse=True))
def test_results_line_dumped_and_parsed_again_is_equal_model(line: dict[str, Any]) -> None:
    parsed = MessageBatchIndividualResponse.model_validate_json(json.dumps(line))

    again = MessageBatchIndividualResponse.model_validate_json(
        parsed.model_dump_json(exclude_unset=True)
    )

    assert again == parsed
    assert type(again.result) is type(parsed.result)


# --------------------------------------------------------------------------- timestamps


@given(
    moment=wire.aware_datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999_999)
    )
)
def test_canonical_timestamp_parses_to_its_instant_and_dumps_identically(moment: datetime) -> None:
    text = wire.format_timestamp(moment)

    batch = MessageBatch.model_validate_json(json.dumps(batch_payload(ended_at=text)))

    assert batch.ended_at is not None
    assert batch.ended_at == moment
    assert batch.ended_at.utcoffset() == moment.utcoffset()
    assert batch.to_wire()["ended_at"] == text


@given(form=wire.other_timestamp_forms())
def test_other_rfc3339_forms_parse_to_the_same_instant(form: tuple[str, datetime]) -> None:
    text, moment = form

    batch = MessageBatch.model_validate_json(json.dumps(batch_payload(created_at=text)))
    dumped = batch.to_wire()["created_at"]
    again = MessageBatch.model_validate(batch_payload(created_at=dumped))

    assert batch.created_at == moment
    assert batch.created_at.utcoffset() == moment.utcoffset()
    assert again.created_at == moment
    assert dumped == wire.format_timestamp(moment)


@pytest.mark.parametrize(
    ("text", "expected", "dumped"),
    [
        (
            "2024-08-20T18:37:24.100435Z",
            datetime(2024, 8, 20, 18, 37, 24, 100435, tzinfo=UTC),
            "2024-08-20T18:37:24.100435Z",
        ),
        (
            "2024-08-20T18:37:24Z",
            datetime(2024, 8, 20, 18, 37, 24, tzinfo=UTC),
            "2024-08-20T18:37:24Z",
        ),
        (
            "2024-08-20T18:37:24.000000Z",
            datetime(2024, 8, 20, 18, 37, 24, tzinfo=UTC),
            "2024-08-20T18:37:24Z",
        ),
        (
            "2024-08-20T18:37:24.1Z",
            datetime(2024, 8, 20, 18, 37, 24, 100_000, tzinfo=UTC),
            "2024-08-20T18:37:24.100000Z",
        ),
        (
            "2024-08-20T18:37:24.100435+00:00",
            datetime(2024, 8, 20, 18, 37, 24, 100435, tzinfo=UTC),
            "2024-08-20T18:37:24.100435Z",
        ),
        (
            "2024-08-20T20:37:24.100435+02:00",
            datetime(2024, 8, 20, 18, 37, 24, 100435, tzinfo=UTC),
            "2024-08-20T20:37:24.100435+02:00",
        ),
        (
            "2024-08-20T13:07:24.100435-05:30",
            datetime(2024, 8, 20, 18, 37, 24, 100435, tzinfo=UTC),
            "2024-08-20T13:07:24.100435-05:30",
        ),
    ],
)
def test_timestamp_forms_parse_to_utc_instant_and_dump_as_pinned(
    text: str, expected: datetime, dumped: str
) -> None:
    batch = MessageBatch.model_validate(batch_payload(created_at=text))

    assert batch.created_at == expected
    assert batch.to_wire()["created_at"] == dumped


def test_timestamp_without_offset_is_kept_naive_and_dumped_as_given() -> None:
    # Not RFC 3339, but a payload that omits the offset must not be shifted silently.
    batch = MessageBatch.model_validate(batch_payload(created_at="2024-08-20T18:37:24.100435"))

    assert batch.created_at.tzinfo is None
    assert batch.to_wire()["created_at"] == "2024-08-20T18:37:24.100435"


def test_timestamp_that_is_not_a_date_is_rejected() -> None:
    with pytest.raises(ValidationError, match="created_at"):
        MessageBatch.model_validate(batch_payload(created_at="yesterday"))


# --------------------------------------------------------------------------- forward compatibility


def test_unknown_processing_status_is_kept_as_an_open_value() -> None:
    payload = batch_payload(processing_status="archiving")

    batch = MessageBatch.model_validate_json(json.dumps(payload))

    assert batch.processing_status == "archiving"
    assert not batch.ended
    assert batch.to_wire() == payload


@pytest.mark.parametrize("status", wire.PROCESSING_STATUSES)
def test_known_processing_status_sets_ended_only_when_ended(status: str) -> None:
    batch = MessageBatch.model_validate(batch_payload(processing_status=status))

    assert batch.ended == (status == "ended")


def test_unknown_result_type_parses_into_fallback_and_keeps_every_field() -> None:
    line = {
        "custom_id": "req-1",
        "result": {"type": "deferred", "until": "2024-08-21T00:00:00Z", "message": {"x": [1, 2]}},
    }

    parsed = MessageBatchIndividualResponse.model_validate_json(json.dumps(line))

    assert isinstance(parsed.result, MessageBatchUnknownResult)
    assert parsed.result.type == "deferred"
    assert parsed.result.model_extra == {"until": "2024-08-21T00:00:00Z", "message": {"x": [1, 2]}}
    assert parsed.to_wire() == line


def test_unknown_content_block_parses_into_fallback_and_is_skipped_by_text() -> None:
    blocks = [
        {"type": "text", "text": "Hello ", "citations": None},
        {"type": "hologram", "frames": [{"at": 0}], "text": "not prose"},
        {"type": "text", "text": "world"},
    ]
    payload = message_payload(content=blocks)

    message = Message.model_validate_json(json.dumps(payload))

    assert [type(block) for block in message.content] == [TextBlock, UnknownContentBlock, TextBlock]
    assert message.text == "Hello world"
    assert message.to_wire() == payload


def test_unknown_stop_reason_and_service_tier_are_kept() -> None:
    payload = message_payload(
        stop_reason="budget_exhausted",
        usage={"input_tokens": 1, "output_tokens": 2, "service_tier": "flex"},
    )

    message = Message.model_validate_json(json.dumps(payload))

    assert message.stop_reason == "budget_exhausted"
    assert message.usage.service_tier == "flex"
    assert message.to_wire() == payload


def test_speed_and_diagnostics_parse_typed_and_dump_back() -> None:
    miss = {"type": "messages_changed", "cache_missed_input_tokens": 2048}
    payload = message_payload(
        usage={"input_tokens": 1, "output_tokens": 2, "speed": "fast"},
        diagnostics={"cache_miss_reason": miss},
    )

    message = Message.model_validate_json(json.dumps(payload))

    assert message.usage.speed == "fast"
    assert isinstance(message.diagnostics, Diagnostics)
    assert isinstance(message.diagnostics.cache_miss_reason, CacheMissReason)
    assert message.diagnostics.cache_miss_reason.type == "messages_changed"
    assert message.diagnostics.cache_miss_reason.cache_missed_input_tokens == 2048
    assert message.model_extra == {}
    assert message.to_wire() == payload


def test_null_absent_and_unknown_speed_and_diagnostics_are_accepted() -> None:
    pending = {"cache_miss_reason": None}  # the diagnosis was not ready yet
    new_kind = {"cache_miss_reason": {"type": "temperature_changed", "delta": 0.2}}
    for usage_extra, diagnostics in (({}, None), ({"speed": None}, pending), ({}, new_kind)):
        payload = message_payload(
            usage={"input_tokens": 1, "output_tokens": 2, **usage_extra}, diagnostics=diagnostics
        )
        message = Message.model_validate(payload)
        assert message.to_wire() == payload
    absent = Message.model_validate(message_payload())
    assert (absent.usage.speed, absent.diagnostics) == (None, None)
    warp = Usage.model_validate({"input_tokens": 1, "output_tokens": 2, "speed": "warp"})
    assert warp.speed == "warp"  # an open enumeration, like stop_reason


def test_unknown_error_type_is_kept() -> None:
    payload = {
        "type": "error",
        "error": {"type": "request_too_large", "message": "Request exceeds the maximum size"},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }

    envelope = ErrorResponse.model_validate_json(json.dumps(payload))

    assert envelope.error.type == "request_too_large"
    assert envelope.to_wire() == payload


def _unknown_fields_everywhere() -> dict[str, Any]:
    block = {"type": "text", "text": "hi", "citations": None, "x_block": {"deep": [None, 1.5]}}
    usage = {"input_tokens": 1, "output_tokens": 2, "x_usage": "u"}
    message = message_payload(content=[block], usage=usage, x_message=True)
    error = {"type": "error", "error": {"type": "api_error", "message": "m", "x_err": 1}}
    lines = [
        {
            "custom_id": "a",
            "result": {"type": "succeeded", "message": message, "x_result": []},
            "x_line": "l",
        },
        {"custom_id": "b", "result": {"type": "errored", "error": {**error, "x_envelope": 0}}},
        {"custom_id": "c", "result": {"type": "canceled", "x_canceled": {}}},
        {"custom_id": "d", "result": {"type": "expired", "x_expired": -1}},
    ]
    counts = {**batch_payload()["request_counts"], "x_counts": 7}
    page = {
        "data": [batch_payload(request_counts=counts, x_batch="b")],
        "has_more": False,
        "first_id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF",
        "last_id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF",
        "x_page": {"cursor": "c"},
    }
    return {"lines": lines, "page": page}


def _extras(model: BaseModel) -> Iterator[tuple[str, Any]]:
    """Every unknown field of a model tree, as (name, value) pairs."""
    yield from (model.model_extra or {}).items()
    for name in type(model).model_fields:
        value = getattr(model, name)
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, BaseModel):
                yield from _extras(child)


def test_unknown_fields_at_every_level_are_kept_and_dumped_again() -> None:
    sample = _unknown_fields_everywhere()

    lines = [
        MessageBatchIndividualResponse.model_validate_json(json.dumps(line))
        for line in sample["lines"]
    ]
    page = MessageBatchPage.model_validate_json(json.dumps(sample["page"]))

    assert [line.to_wire() for line in lines] == sample["lines"]
    assert page.to_wire() == sample["page"]
    kept = {name for model in [*lines, page] for name, _ in _extras(model)}
    assert kept == {
        "x_block",
        "x_usage",
        "x_message",
        "x_err",
        "x_envelope",
        "x_result",
        "x_line",
        "x_canceled",
        "x_expired",
        "x_counts",
        "x_batch",
        "x_page",
    }


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"type": "succeeded", "message": message_payload()}, MessageBatchSucceededResult),
        (
            {
                "type": "errored",
                "error": {"type": "error", "error": {"type": "api_error", "message": ""}},
            },
            MessageBatchErroredResult,
        ),
        ({"type": "canceled"}, MessageBatchCanceledResult),
        ({"type": "expired"}, MessageBatchExpiredResult),
        ({"type": "Succeeded"}, MessageBatchUnknownResult),
    ],
)
def test_result_type_selects_the_result_class(result: dict[str, Any], expected: type) -> None:
    parsed = MessageBatchIndividualResponse.model_validate({"custom_id": "x", "result": result})

    assert type(parsed.result) is expected


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"type": "text", "text": "t"}, TextBlock),
        ({"type": "thinking", "thinking": "t", "signature": "s"}, ThinkingBlock),
        ({"type": "redacted_thinking", "data": "d"}, RedactedThinkingBlock),
        ({"type": "tool_use", "id": "toolu_1", "name": "n", "input": {}}, ToolUseBlock),
        ({"type": "container_upload", "file_id": "file_1"}, UnknownContentBlock),
    ],
)
def test_content_block_type_selects_the_block_class(block: dict[str, Any], expected: type) -> None:
    message = Message.model_validate(message_payload(content=[block]))

    assert type(message.content[0]) is expected


def test_errored_result_exposes_the_error_kind() -> None:
    line = {
        "custom_id": "x",
        "result": {
            "type": "errored",
            "error": {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "bad"},
            },
        },
    }

    parsed = MessageBatchIndividualResponse.model_validate(line)

    assert isinstance(parsed.result, MessageBatchErroredResult)
    assert parsed.result.error.error.type == "invalid_request_error"
    assert parsed.result.error.error.message == "bad"


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (MessageBatchIndividualResponse, {"result": {"type": "canceled"}}),
        (MessageBatchIndividualResponse, {"custom_id": "x", "result": {"text": "no type"}}),
        (Message, message_payload(content=[{"type": "text"}])),
        (Message, message_payload(content=[{"type": "tool_use", "id": "t", "name": "n"}])),
        (MessageBatch, batch_payload(id=None)),
        (MessageBatch, batch_payload(processing_status=3)),
        (MessageBatch, {k: v for k, v in batch_payload().items() if k != "request_counts"}),
        (MessageBatchPage, {"data": [], "has_more": "sometimes"}),
        (ErrorResponse, {"type": "error", "error": {"message": "no kind"}}),
    ],
)
def test_payload_breaking_a_known_shape_is_still_rejected(
    model: type[BaseModel], payload: dict[str, Any]
) -> None:
    # The fallbacks are for new *types*; a known type missing its fields is an error.
    with pytest.raises(ValidationError):
        model.model_validate_json(json.dumps(payload))


# --------------------------------------------------------------------------- models built in Python


@pytest.mark.parametrize(
    "model",
    [
        MessageBatchCanceledResult(),
        MessageBatchExpiredResult(),
        MessageBatchSucceededResult(
            message=Message(
                id="msg_1",
                model="m",
                content=[TextBlock(text="t"), ThinkingBlock(thinking="t", signature="s")],
                usage=Usage(input_tokens=1, output_tokens=1),
            )
        ),
        MessageBatchErroredResult(error=ErrorResponse(error=ErrorObject(type="api_error"))),
    ],
    ids=lambda model: type(model).__name__,
)
def test_result_built_in_python_dumps_its_type_and_parses_back(model: WireModel) -> None:
    line = MessageBatchIndividualResponse(custom_id="req-1", result=model)

    wire_line = line.to_wire()

    assert wire_line["result"]["type"] == model.type  # type: ignore[attr-defined]
    assert MessageBatchIndividualResponse.model_validate(wire_line) == line


def test_batch_built_in_python_dumps_its_type() -> None:
    now = datetime(2024, 8, 20, 18, 37, 24, 100435, tzinfo=UTC)
    batch = MessageBatch(
        id="msgbatch_1",
        processing_status="in_progress",
        request_counts=MessageBatchRequestCounts(processing=2),
        created_at=now,
        expires_at=now + timedelta(hours=24),
    )

    assert batch.to_wire()["type"] == "message_batch"
    assert batch.to_wire()["expires_at"] == "2024-08-21T18:37:24.100435Z"
    assert DeletedMessageBatch(id="msgbatch_1").to_wire() == {
        "id": "msgbatch_1",
        "type": "message_batch_deleted",
    }


# --------------------------------------------------------------------------- helpers on the models


@given(
    counts=wire.request_counts(
        processing=3, ended={"succeeded": 4, "errored": 5, "canceled": 6, "expired": 7}
    )
)
def test_request_counts_total_is_the_sum_of_every_state(counts: dict[str, Any]) -> None:
    parsed = MessageBatchRequestCounts.model_validate(counts)

    assert parsed.total == 3 + 4 + 5 + 6 + 7


@given(batch=wire.message_batches())
def test_generated_batch_counts_add_up_to_processing_or_ended_tallies(
    batch: dict[str, Any],
) -> None:
    parsed = MessageBatch.model_validate(batch)
    counts = parsed.request_counts

    assert counts.total >= 1
    if parsed.ended:
        assert counts.processing == 0
        assert parsed.ended_at is not None
        assert parsed.results_url is not None
    else:
        assert counts.processing == counts.total
        assert parsed.results_url is None
    assert parsed.expires_at - parsed.created_at == timedelta(hours=24)


# --------------------------------------------------------------------------- official schemas

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@pytest.fixture(scope="module")
def openapi() -> Callable[[str], Any]:
    """A validator factory for the official OpenAPI component schemas."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    path = REFERENCE_DIR / "anthropic-message-batches.openapi.json"
    if not path.is_file():
        pytest.skip(f"official OpenAPI description not found at {path}")
    components = json.loads(path.read_text(encoding="utf-8"))["components"]
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time", raises=ValueError)(_is_rfc3339)
    cache: dict[str, Any] = {}

    def validator(name: str) -> Any:
        if name not in cache:
            schema = {"$ref": f"#/components/schemas/{name}", "components": components}
            cache[name] = jsonschema.Draft202012Validator(schema, format_checker=checker)
        return cache[name]

    return validator


SPEC_SHAPES: list[tuple[str, StrategyFactory]] = [
    ("MessageBatch", wire.message_batches),
    ("ListResponse_MessageBatch_", wire.message_batch_pages),
    ("DeleteMessageBatchResponse", wire.deleted_message_batches),
    ("ErrorResponse", wire.error_envelopes),
    ("Message", wire.messages),
    ("MessageBatchIndividualResponse", wire.individual_responses),
]


@pytest.mark.parametrize(("schema", "strategy"), SPEC_SHAPES, ids=[s for s, _ in SPEC_SHAPES])
@given(data=st.data())
def test_generated_payload_without_extras_is_valid_against_official_schema(
    openapi: Callable[[str], Any], schema: str, strategy: StrategyFactory, data: st.DataObject
) -> None:
    payload = data.draw(strategy())

    errors = [error.message for error in openapi(schema).iter_errors(payload)]

    assert errors == []


@given(request=wire.create_requests())
def test_generated_create_request_is_valid_against_official_schema(
    openapi: Callable[[str], Any], request: dict[str, Any]
) -> None:
    errors = [
        error.message
        for error in openapi("MessageBatchIndividualRequestParams").iter_errors(request)
    ]

    assert errors == []


@pytest.mark.parametrize(
    ("schema", "payload"),
    [
        ("MessageBatch", batch_payload(processing_status="archiving")),
        ("MessageBatch", batch_payload(created_at="2024-08-20")),
        ("Message", message_payload(content=[{"type": "hologram"}])),
        ("MessageBatchIndividualResponse", {"custom_id": "a", "result": {"type": "deferred"}}),
        ("MessageBatchIndividualRequestParams", {"custom_id": "a b", "params": {}}),
    ],
)
def test_official_schema_rejects_what_only_our_open_models_accept(
    openapi: Callable[[str], Any], schema: str, payload: dict[str, Any]
) -> None:
    # Proves the schema check above can fail: these payloads are outside the spec.
    assert not openapi(schema).is_valid(payload)


def test_format_offset_writes_z_for_utc_and_signed_hours_minutes_otherwise() -> None:
    # The identity strategies rely on it: "+00:00" would come back as "Z".
    assert wire.format_offset(datetime(2024, 1, 1, tzinfo=timezone(timedelta(0)))) == "Z"
    assert (
        wire.format_offset(datetime(2024, 1, 1, tzinfo=timezone(timedelta(minutes=-330))))
        == "-05:30"
    )
