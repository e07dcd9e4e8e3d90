"""Our models and every emulator body name exactly the fields of the official SDKs.

The installed official ``anthropic`` SDK (the ``test`` extra requires its latest release
line) is the freshest machine-readable list of the API's fields: its pydantic models name
every field of every response, and type each one as always present (nullable). So:

- each of our wire models has the same field names as the SDK's model of the same body,
  requires no field the SDK treats as optional, accepts ``null`` wherever the SDK does,
  and accepts every value of each of the SDK's enumerations;
- each body the emulator sends (batch, request counts, list page, deleted batch, results
  line of each type, message, usage, text block, diagnostics, error envelopes) has exactly
  the SDK's fields, and parses into our models with nothing left unnamed.

When the API adds a field, the next SDK release names it and these tests fail until the
models and the emulator carry it, instead of a user meeting it first.

The TypeScript SDK (``@anthropic-ai/sdk``) is checked from ``sdk_typescript_fields.json``:
field lists extracted once from its ``.d.ts`` declarations (the file says which release and
how), so the suite never needs npm.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic import types as sdk_types
from anthropic.pagination import SyncPage
from anthropic.types import messages as sdk_batches
from anthropic.types import shared as sdk_shared
from anthropic.types.cache_miss_reason import CacheMissReason as SdkCacheMissReason
from pydantic import BaseModel, TypeAdapter

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
    RedactedThinkingBlock,
    Request,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from rxbatches._base.models import WireModel
from rxbatches.emulator import EmulatorThread, Fail, ManualClock, Succeed, default_responder

from ._wire import WireClient, WireResponse, simple_request

START = datetime(2025, 1, 1, tzinfo=UTC)
TS_SNAPSHOT = Path(__file__).with_name("sdk_typescript_fields.json")

# ------------------------------------------------------------------ the SDK's models


def _variants(alias: Any) -> dict[str, type[BaseModel]]:
    """The members of one of the SDK's discriminated unions, by their ``type`` value."""
    union = typing.get_args(alias)[0] if typing.get_origin(alias) is typing.Annotated else alias
    found: dict[str, type[BaseModel]] = {}
    for member in typing.get_args(union):
        (kind,) = typing.get_args(member.model_fields["type"].annotation)
        found[kind] = member
    return found


SDK_RESULTS = _variants(sdk_batches.MessageBatchResult)
SDK_ERRORS = _variants(sdk_shared.ErrorObject)
SDK_BLOCKS = _variants(sdk_types.ContentBlock)
SDK_CACHE_MISSES = _variants(SdkCacheMissReason)
SDK_PAGE = SyncPage[sdk_batches.MessageBatch]


def _fields(model: type[BaseModel]) -> set[str]:
    """The wire names of a model's fields."""
    return {info.alias or name for name, info in model.model_fields.items()}


def _union_fields(models: Mapping[str, type[BaseModel]]) -> set[str]:
    return set().union(*(_fields(m) for m in models.values()))


PAIRS: list[tuple[type[WireModel], type[BaseModel] | Mapping[str, type[BaseModel]]]] = [
    (MessageBatch, sdk_batches.MessageBatch),
    (MessageBatchRequestCounts, sdk_batches.MessageBatchRequestCounts),
    (MessageBatchPage, SDK_PAGE),
    (DeletedMessageBatch, sdk_batches.DeletedMessageBatch),
    (MessageBatchIndividualResponse, sdk_batches.MessageBatchIndividualResponse),
    (MessageBatchSucceededResult, SDK_RESULTS["succeeded"]),
    (MessageBatchErroredResult, SDK_RESULTS["errored"]),
    (MessageBatchCanceledResult, SDK_RESULTS["canceled"]),
    (MessageBatchExpiredResult, SDK_RESULTS["expired"]),
    (ErrorResponse, sdk_shared.ErrorResponse),
    (ErrorObject, SDK_ERRORS),  # one model of ours for the SDK's nine error kinds
    (Message, sdk_types.Message),
    (Usage, sdk_types.Usage),
    (Diagnostics, sdk_types.Diagnostics),
    (CacheMissReason, SDK_CACHE_MISSES),  # one model of ours for the SDK's six kinds
    (TextBlock, sdk_types.TextBlock),
    (ThinkingBlock, sdk_types.ThinkingBlock),
    (RedactedThinkingBlock, sdk_types.RedactedThinkingBlock),
    (ToolUseBlock, sdk_types.ToolUseBlock),
]

LEFT_TO_THE_FALLBACK = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "container_upload",
    }
)
"""Content block types the SDK models that ours keep as :class:`UnknownContentBlock`."""


def _pair_id(pair: tuple[type[WireModel], object]) -> str:
    return pair[0].__name__


def _sdk_models(sdk: type[BaseModel] | Mapping[str, type[BaseModel]]) -> list[type[BaseModel]]:
    return list(sdk.values()) if isinstance(sdk, Mapping) else [sdk]


@pytest.mark.parametrize("pair", PAIRS, ids=_pair_id)
def test_our_model_names_exactly_the_sdk_fields(
    pair: tuple[type[WireModel], type[BaseModel] | Mapping[str, type[BaseModel]]],
) -> None:
    ours, sdk = pair
    theirs = _union_fields(sdk) if isinstance(sdk, Mapping) else _fields(sdk)

    assert _fields(ours) == theirs, (
        f"{ours.__name__} drifted from anthropic {anthropic.__version__}: "
        f"missing {sorted(theirs - _fields(ours))}, unknown to the SDK "
        f"{sorted(_fields(ours) - theirs)}"
    )


def _optional_in_sdk(name: str, models: list[type[BaseModel]]) -> bool:
    return any(name not in m.model_fields or not m.model_fields[name].is_required() for m in models)


def _nullable(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation) or annotation is Any


def _literal_values(annotation: Any) -> list[Any]:
    """The values of a ``Literal`` field, itself or inside ``Optional[...]``."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [v for arg in typing.get_args(annotation) for v in _literal_values(arg)]
    return []


STRICTER_THAN_THE_SDK = {(MessageBatchPage, "has_more")}
"""Fields ours require (and keep non-null) where the SDK does not, each for a reason.

``has_more``: the SDK's hand-written page class tolerates its absence; the API documents
it as always sent, and our paging decides on it.
"""


@pytest.mark.parametrize("pair", PAIRS, ids=_pair_id)
def test_our_model_is_no_stricter_than_the_sdk(
    pair: tuple[type[WireModel], type[BaseModel] | Mapping[str, type[BaseModel]]],
) -> None:
    ours, sdk = pair
    models = _sdk_models(sdk)
    for name, info in ours.model_fields.items():
        wire = info.alias or name
        if (ours, wire) in STRICTER_THAN_THE_SDK:
            continue
        if info.is_required():
            assert not _optional_in_sdk(wire, models), f"{ours.__name__}.{wire} is required"
        for model in models:
            theirs = model.model_fields.get(wire)
            if theirs is None:
                continue
            if _nullable(theirs.annotation):
                assert _nullable(info.annotation), f"{ours.__name__}.{wire} refuses null"
            for value in _literal_values(theirs.annotation):
                # Raises if our type refuses a value the SDK lists.
                assert info.annotation is not None
                TypeAdapter[Any](info.annotation).validate_python(value)


def test_todays_fields_are_typed_as_the_sdk_types_them() -> None:
    speed = sdk_types.Usage.model_fields["speed"].annotation
    assert set(typing.get_args(speed)) == {typing.Literal["standard", "fast"], type(None)}
    assert set(_literal_values(Usage.model_fields["speed"].annotation)) == {"standard", "fast"}
    usage = Usage.model_validate({"input_tokens": 1, "output_tokens": 2, "speed": "fast"})
    assert usage.speed == "fast"
    assert Usage.model_validate({"input_tokens": 1, "output_tokens": 2}).speed is None
    # An open enumeration, like the API's others: a new speed does not break a results stream.
    assert Usage.model_validate({"input_tokens": 1, "output_tokens": 2, "speed": "warp"}).speed

    diagnostics_type = sdk_types.Message.model_fields["diagnostics"].annotation
    assert set(typing.get_args(diagnostics_type)) == {sdk_types.Diagnostics, type(None)}
    assert Message.model_fields["diagnostics"].annotation == Diagnostics | None
    miss = {"cache_miss_reason": {"type": "tools_changed", "cache_missed_input_tokens": 120}}
    diagnostics = Diagnostics.model_validate(miss)
    assert diagnostics.cache_miss_reason is not None
    assert diagnostics.cache_miss_reason.type == "tools_changed"
    assert diagnostics.cache_miss_reason.cache_missed_input_tokens == 120
    assert diagnostics.to_wire() == miss
    assert sdk_types.Diagnostics.model_validate(diagnostics.to_wire()).cache_miss_reason is not None


def test_result_and_block_types_are_the_sdk_ones() -> None:
    from rxbatches._base.models import _KNOWN_BLOCKS, _KNOWN_RESULTS

    assert set(SDK_RESULTS) == _KNOWN_RESULTS
    assert set(SDK_BLOCKS) == _KNOWN_BLOCKS | LEFT_TO_THE_FALLBACK, (
        "the SDK has content block types we neither model nor list as left to the fallback: "
        f"{sorted(set(SDK_BLOCKS) - _KNOWN_BLOCKS - LEFT_TO_THE_FALLBACK)}"
    )


def test_the_emulator_knows_every_error_kind_of_the_sdk() -> None:
    from rxbatches.emulator._app import ERROR_TYPES

    assert set(SDK_ERRORS) <= set(ERROR_TYPES.values())


# ------------------------------------------------------------------ the emulator's bodies


def _responder(request: Request) -> Succeed | Fail:
    if request.custom_id.startswith("fail"):
        return Fail("overloaded_error", "failed on purpose")
    if request.custom_id.startswith("slow"):
        return Succeed(latency=2 * 24 * 3600.0)  # still running when the batch expires
    if request.custom_id.startswith("own"):
        # A responder's own message, with only the fields a test would bother to write.
        tool = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
        content = [{"type": "text", "text": "hi"}, tool]
        message = {"id": "msg_own", "model": "m", "content": content}
        return Succeed({**message, "usage": {"input_tokens": 1, "output_tokens": 1}})
    return default_responder(request)


@dataclass
class Bodies:
    """One of each body the emulator sends, as parsed JSON, by name."""

    items: dict[str, list[dict[str, Any]]]

    def __getitem__(self, name: str) -> list[dict[str, Any]]:
        assert self.items[name], f"no {name} body was collected"
        return self.items[name]


def _ok(response: WireResponse) -> dict[str, Any]:
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def bodies() -> Bodies:
    clock = ManualClock(START)
    found: dict[str, list[dict[str, Any]]] = {}

    def add(name: str, body: dict[str, Any]) -> None:
        found.setdefault(name, []).append(body)

    with (
        EmulatorThread(
            clock=clock, request_latency=1.0, concurrency=1, responder=_responder
        ) as emu,
        WireClient(emu.base_url) as client,
    ):
        diagnosed = simple_request(
            "ok-diag", diagnostics={"previous_message_id": "msg_earlier"}, speed="fast"
        )
        requests = [simple_request("ok-0"), simple_request("fail-1"), simple_request("own-2")]
        mixed = _ok(client.create([*requests, diagnosed, simple_request("slow-4")]))
        canceled = _ok(client.create([simple_request("ok-0"), simple_request("ok-1")]))
        add("batch", mixed)
        add("batch", _ok(client.cancel(canceled["id"])))
        add("batch", _ok(client.retrieve(mixed["id"])))
        clock.advance(2 * 24 * 3600)
        add("batch", _ok(client.retrieve(mixed["id"])))
        add("page", _ok(client.list(limit=1)))
        add("page", _ok(client.list(limit=5, after_id=mixed["id"])))
        for batch in (mixed, canceled):
            raw = client.results(batch["id"])
            assert raw.status == 200, raw.body
            for line in raw.body.decode().splitlines():
                item = json.loads(line)
                add("line", item)
                result = item["result"]
                add(result["type"], result)
                if result["type"] == "succeeded":
                    message = result["message"]
                    add("message", message)
                    add("usage", message["usage"])
                    for block in message["content"]:
                        add(f"{block['type']} block", block)
                    if message.get("diagnostics") is not None:
                        add("diagnostics", message["diagnostics"])
                if result["type"] == "errored":
                    add("error envelope", result["error"])
        add("deleted", _ok(client.delete(canceled["id"])))
        add("error envelope", client.retrieve("msgbatch_nope").json())
        with WireClient(emu.base_url, api_key=None) as anonymous:
            add("error envelope", anonymous.list().json())
    return Bodies(found)


# (body name, the SDK model of that body, the TypeScript interface of it)
BODY_MODELS: list[tuple[str, type[BaseModel], str]] = [
    ("batch", sdk_batches.MessageBatch, "MessageBatch"),
    ("page", SDK_PAGE, "PageResponse"),
    ("deleted", sdk_batches.DeletedMessageBatch, "DeletedMessageBatch"),
    ("line", sdk_batches.MessageBatchIndividualResponse, "MessageBatchIndividualResponse"),
    ("succeeded", SDK_RESULTS["succeeded"], "MessageBatchSucceededResult"),
    ("errored", SDK_RESULTS["errored"], "MessageBatchErroredResult"),
    ("canceled", SDK_RESULTS["canceled"], "MessageBatchCanceledResult"),
    ("expired", SDK_RESULTS["expired"], "MessageBatchExpiredResult"),
    ("message", sdk_types.Message, "Message"),
    ("usage", sdk_types.Usage, "Usage"),
    ("text block", sdk_types.TextBlock, "TextBlock"),
    ("diagnostics", sdk_types.Diagnostics, "Diagnostics"),
    ("error envelope", sdk_shared.ErrorResponse, "ErrorResponse"),
]

# Objects nested in the bodies above: (body name, key path, SDK model or union, TS name).
NESTED: list[tuple[str, tuple[str, ...], Any, str]] = [
    (
        "batch",
        ("request_counts",),
        sdk_batches.MessageBatchRequestCounts,
        "MessageBatchRequestCounts",
    ),
    ("usage", ("cache_creation",), sdk_types.CacheCreation, "CacheCreation"),
    ("usage", ("output_tokens_details",), sdk_types.OutputTokensDetails, "OutputTokensDetails"),
    ("error envelope", ("error",), SDK_ERRORS, "ErrorObject"),
    ("diagnostics", ("cache_miss_reason",), SDK_CACHE_MISSES, "CacheMissReason"),
]


def _nested(body: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    value: Any = body
    for key in path:
        value = value[key]
    assert isinstance(value, dict), f"{'.'.join(path)} is {value!r}"
    return value


def _sdk_model_of(sdk: Any, obj: Mapping[str, Any]) -> type[BaseModel]:
    return sdk[obj["type"]] if isinstance(sdk, Mapping) else sdk  # type: ignore[no-any-return]


@pytest.mark.parametrize(("name", "sdk", "ts"), BODY_MODELS, ids=[b[0] for b in BODY_MODELS])
def test_every_emulator_body_has_exactly_the_sdk_fields(
    bodies: Bodies, name: str, sdk: type[BaseModel], ts: str
) -> None:
    for body in bodies[name]:
        assert set(body) == _fields(sdk), (
            f"the emulator's {name} drifted from anthropic {anthropic.__version__}: "
            f"missing {sorted(_fields(sdk) - set(body))}, extra {sorted(set(body) - _fields(sdk))}"
        )
        sdk.model_validate(body)


@pytest.mark.parametrize(
    ("name", "path", "sdk", "ts"), NESTED, ids=[f"{n[0]}.{'.'.join(n[1])}" for n in NESTED]
)
def test_every_nested_emulator_object_has_exactly_the_sdk_fields(
    bodies: Bodies, name: str, path: tuple[str, ...], sdk: Any, ts: str
) -> None:
    for body in bodies[name]:
        obj = _nested(body, path)
        model = _sdk_model_of(sdk, obj)
        assert set(obj) == _fields(model), f"{name}.{'.'.join(path)}: {sorted(obj)}"
        model.model_validate(obj)


def test_a_responders_tool_use_block_gets_the_fields_the_api_always_sends(
    bodies: Bodies, typescript: dict[str, Any]
) -> None:
    # `toolset_name` is optional in both SDKs (TypeScript: `toolset_name?`), so it is the one
    # field a body may leave out.
    declared = typescript["interfaces"]["ToolUseBlock"]
    always = {name for name, kind in declared.items() if not kind.endswith("(optional)")}
    assert always == _fields(sdk_types.ToolUseBlock) - {"toolset_name"}
    for block in bodies["tool_use block"]:
        assert always <= set(block) <= _fields(sdk_types.ToolUseBlock)
        assert block["caller"] == {"type": "direct"}
        sdk_types.ToolUseBlock.model_validate(block)


def test_the_emulator_sends_todays_fields_with_realistic_values(bodies: Bodies) -> None:
    messages = bodies["message"]
    speeds = {m["usage"]["speed"] for m in messages}
    assert speeds == {"standard", "fast"}  # "fast" only where the request asked for it
    diagnosed = [m for m in messages if m["diagnostics"] is not None]
    assert len(diagnosed) == 1
    assert diagnosed[0]["usage"]["speed"] == "fast"
    assert diagnosed[0]["diagnostics"] == {
        "cache_miss_reason": {"type": "previous_message_not_found"}
    }
    assert len(messages) == 3
    assert sum(m["diagnostics"] is None for m in messages) == 2


_MODEL_OF_BODY: dict[str, type[WireModel]] = {
    "batch": MessageBatch,
    "page": MessageBatchPage,
    "deleted": DeletedMessageBatch,
    "line": MessageBatchIndividualResponse,
    "message": Message,
    "error envelope": ErrorResponse,
}


def _unnamed(model: object, where: str = "") -> list[str]:
    """Every field of a parsed payload that landed in a model's extras, with its path."""
    found: list[str] = []
    if isinstance(model, WireModel):
        found += [f"{where}.{key}" for key in model.model_extra or {}]
        for name in type(model).model_fields:
            found += _unnamed(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        for i, item in enumerate(model):
            found += _unnamed(item, f"{where}[{i}]")
    return found


@pytest.mark.parametrize("name", sorted(_MODEL_OF_BODY))
def test_every_emulator_body_parses_into_our_models_with_every_field_named(
    bodies: Bodies, name: str
) -> None:
    for body in bodies[name]:
        parsed = _MODEL_OF_BODY[name].model_validate(body)
        assert _unnamed(parsed) == []
        assert parsed.to_wire() == body


# ------------------------------------------------------------------ the TypeScript SDK


@pytest.fixture(scope="module")
def typescript() -> dict[str, Any]:
    snapshot: dict[str, Any] = json.loads(TS_SNAPSHOT.read_text(encoding="utf-8"))
    return snapshot


def test_the_typescript_snapshot_declares_todays_fields(typescript: dict[str, Any]) -> None:
    assert typescript["package"].startswith("@anthropic-ai/sdk@")
    interfaces = typescript["interfaces"]
    assert interfaces["Message"]["diagnostics"] == "Diagnostics | null"
    assert interfaces["Usage"]["speed"] == "'standard' | 'fast' | null"


@pytest.mark.parametrize(("name", "sdk", "ts"), BODY_MODELS, ids=[b[0] for b in BODY_MODELS])
def test_every_emulator_body_has_the_typescript_sdk_fields(
    bodies: Bodies, typescript: dict[str, Any], name: str, sdk: type[BaseModel], ts: str
) -> None:
    declared = set(typescript["interfaces"][ts])
    for body in bodies[name]:
        assert declared <= set(body), (
            f"the emulator's {name} lacks {sorted(declared - set(body))}, declared by "
            f"{typescript['package']} ({ts})"
        )


@pytest.mark.parametrize(
    ("name", "path", "sdk", "ts"), NESTED, ids=[f"{n[0]}.{'.'.join(n[1])}" for n in NESTED]
)
def test_every_nested_emulator_object_has_the_typescript_sdk_fields(
    bodies: Bodies,
    typescript: dict[str, Any],
    name: str,
    path: tuple[str, ...],
    sdk: Any,
    ts: str,
) -> None:
    interfaces = typescript["interfaces"]
    members = typescript["unions"].get(ts)
    for body in bodies[name]:
        obj = _nested(body, path)
        if members is None:
            declared = set(interfaces[ts])
        else:
            # The member of the union whose `type` is the object's.
            (member,) = (m for m in members if interfaces[m].get("type") == f"'{obj['type']}'")
            declared = set(interfaces[member])
        assert declared <= set(obj), f"{name}.{'.'.join(path)} lacks {sorted(declared - set(obj))}"


def test_the_typescript_and_python_sdks_agree_on_the_fields_compared(
    typescript: dict[str, Any],
) -> None:
    # A stale snapshot would make the checks above weaker than they look.
    interfaces = typescript["interfaces"]
    for _, sdk, ts in BODY_MODELS:
        assert set(interfaces[ts]) <= _fields(sdk), ts
    for _, _, sdk, ts in NESTED:
        members = typescript["unions"].get(ts, [ts])
        assert set().union(*(set(interfaces[m]) for m in members)) <= (
            _union_fields(sdk) if isinstance(sdk, Mapping) else _fields(sdk)
        ), ts
