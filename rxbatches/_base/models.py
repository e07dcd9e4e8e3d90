"""Pydantic v2 wire models shared by the client and the emulator.

Field names are those of the wire format and of the official SDK. Every response model
keeps unknown fields (``extra="allow"``) and dumps them again, so a payload parsed and
dumped with ``model_dump(mode="json", by_alias=True, exclude_unset=True)`` gives back
the JSON it came from. Open enumerations (``processing_status``, ``stop_reason``) accept
values this version does not know, and an unknown result or content block ``type``
parses into a fallback variant instead of failing a whole results stream.

The create side (:class:`BatchCreateParams`, :class:`Request`, :class:`MessageCreateParams`)
mirrors the request body; :mod:`rxbatches._base.validation` holds the checks the API applies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "BatchCreateParams",
    "CacheMissReason",
    "ContentBlock",
    "DeletedMessageBatch",
    "Diagnostics",
    "ErrorObject",
    "ErrorResponse",
    "Message",
    "MessageBatch",
    "MessageBatchCanceledResult",
    "MessageBatchErroredResult",
    "MessageBatchExpiredResult",
    "MessageBatchIndividualResponse",
    "MessageBatchPage",
    "MessageBatchRequestCounts",
    "MessageBatchResult",
    "MessageBatchSucceededResult",
    "MessageBatchUnknownResult",
    "MessageCreateParams",
    "MessageParam",
    "ProcessingStatus",
    "RedactedThinkingBlock",
    "Request",
    "TextBlock",
    "ThinkingBlock",
    "ToolUseBlock",
    "UnknownContentBlock",
    "Usage",
]


class WireModel(BaseModel):
    """Base of every response model: keeps unknown fields and dumps them again."""

    # Caching only keys: values (texts, ids) rarely repeat, and hashing them costs ~4%.
    model_config = ConfigDict(extra="allow", populate_by_name=True, cache_strings="keys")

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON-ready dict of this model as it travels on the wire.

        Fields that were never set are left out, so a parsed payload dumps back to
        the same JSON it was parsed from; ``type`` is always there, even when a model
        built in Python left it at its default.
        """
        _count_types_as_set(self)
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _count_types_as_set(value: object) -> None:
    """Mark ``type`` as set on ``value`` and on every wire model nested in it.

    Left at its default, ``exclude_unset`` would drop it and the dumped result or block
    could not be parsed back (the wire always carries it). Done here, at dump time,
    rather than in ``model_post_init``: a Python hook run for every parsed model cost
    about a quarter of the time of validating a results line.
    """
    if isinstance(value, WireModel):
        fields = type(value).model_fields
        if "type" in fields:
            value.model_fields_set.add("type")
        for name in fields:
            _count_types_as_set(getattr(value, name))
    elif isinstance(value, list):
        for item in value:
            _count_types_as_set(item)


ProcessingStatus: TypeAlias = Literal["in_progress", "canceling", "ended"] | str
"""``in_progress``, ``canceling`` or ``ended``; a value unknown to this version is kept as is."""

StopReason: TypeAlias = (
    Literal[
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    ]
    | str
)


# --------------------------------------------------------------------------- batches


class MessageBatchRequestCounts(WireModel):
    """How many requests of a batch are in each state.

    ``succeeded``, ``errored``, ``canceled`` and ``expired`` stay 0 until the whole
    batch has ended; their sum (with ``processing``) is the number of requests.
    """

    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0

    @property
    def total(self) -> int:
        """The number of requests in the batch."""
        return self.processing + self.succeeded + self.errored + self.canceled + self.expired


class MessageBatch(WireModel):
    """A Message Batch: its id, processing status, request counts and timestamps."""

    id: str
    type: Literal["message_batch"] = "message_batch"
    processing_status: ProcessingStatus
    request_counts: MessageBatchRequestCounts
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    archived_at: datetime | None = None
    results_url: str | None = None

    @property
    def ended(self) -> bool:
        """Whether processing has ended (results can be fetched)."""
        return self.processing_status == "ended"


class DeletedMessageBatch(WireModel):
    """The answer to a delete: the id of the batch that is gone."""

    id: str
    type: Literal["message_batch_deleted"] = "message_batch_deleted"


class MessageBatchPage(WireModel):
    """One page of a batch listing, newest first.

    The next page is fetched with ``after_id=last_id``; when paging backwards
    (``before_id`` was given), with ``before_id=first_id``.
    """

    data: list[MessageBatch]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


# --------------------------------------------------------------------------- errors


class ErrorObject(WireModel):
    """The ``error`` member of an error envelope: its kind and a human-readable message."""

    type: str
    message: str = ""


class ErrorResponse(WireModel):
    """The error envelope: ``{"type": "error", "error": {...}, "request_id": ...}``."""

    type: Literal["error"] = "error"
    error: ErrorObject
    request_id: str | None = None


# --------------------------------------------------------------------------- messages


class TextBlock(WireModel):
    """A text content block."""

    type: Literal["text"] = "text"
    text: str
    citations: list[dict[str, Any]] | None = None


class ThinkingBlock(WireModel):
    """An extended-thinking content block."""

    type: Literal["thinking"] = "thinking"
    thinking: str
    signature: str


class RedactedThinkingBlock(WireModel):
    """A redacted extended-thinking content block."""

    type: Literal["redacted_thinking"] = "redacted_thinking"
    data: str


class ToolUseBlock(WireModel):
    """A request from the model to call a tool."""

    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any]
    caller: dict[str, Any] | None = None
    toolset_name: str | None = None


def _unknown(known: frozenset[str]) -> AfterValidator:
    """A check that a fallback's ``type`` is not one of the ``known`` ones.

    A line of a known type that breaks its shape must fail, not fall back.
    """

    def check(kind: str) -> str:
        if kind in known:
            raise ValueError(f"type {kind!r} is known but the payload does not match it")
        return kind

    return AfterValidator(check)


_KNOWN_BLOCKS = frozenset({"text", "thinking", "redacted_thinking", "tool_use"})


class UnknownContentBlock(WireModel):
    """A content block of a type this version does not model; every field is kept."""

    type: Annotated[str, _unknown(_KNOWN_BLOCKS)]


# The known types go through pydantic's native tagged union (a key lookup in Rust), and
# only when that fails (a new type) is the fallback tried: a callable Discriminator
# would turn every line's JSON into Python objects first (measured: +2.8 us a line).
ContentBlock: TypeAlias = Annotated[
    Annotated[
        TextBlock | ThinkingBlock | RedactedThinkingBlock | ToolUseBlock,
        Field(discriminator="type"),
    ]
    | UnknownContentBlock,
    Field(union_mode="left_to_right"),
]
"""A content block of a message, discriminated by ``type`` with a fallback for new types."""


Speed: TypeAlias = Literal["standard", "fast"] | str
"""``standard`` or ``fast``; a value unknown to this version is kept as is."""


class Usage(WireModel):
    """Token usage of one message.

    The nested objects (``cache_creation``, ``output_tokens_details``,
    ``server_tool_use``) stay plain dicts so their new keys pass through untouched.
    """

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation: dict[str, Any] | None = None
    inference_geo: str | None = None
    output_tokens_details: dict[str, Any] | None = None
    server_tool_use: dict[str, Any] | None = None
    service_tier: str | None = None
    speed: Speed | None = None
    """The inference speed mode the request ran in: ``standard`` or ``fast``."""


class CacheMissReason(WireModel):
    """Why the prompt cache could not reuse the prefix of an earlier request.

    ``type`` is one of ``model_changed``, ``system_changed``, ``tools_changed``,
    ``messages_changed``, ``previous_message_not_found`` or ``unavailable`` (a kind this
    version does not know is kept as is); the ``..._changed`` kinds also carry
    ``cache_missed_input_tokens``.
    """

    type: str
    cache_missed_input_tokens: int | None = None


class Diagnostics(WireModel):
    """Request-level diagnostics of a message (asked for with the ``diagnostics`` param).

    ``cache_miss_reason`` is ``None`` while the diagnosis is still pending.
    """

    cache_miss_reason: CacheMissReason | None = None


class Message(WireModel):
    """An assistant message, as the Messages API returns it."""

    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[ContentBlock]
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    stop_details: dict[str, Any] | None = None
    container: dict[str, Any] | None = None
    diagnostics: Diagnostics | None = None
    """``None`` unless the request asked for diagnostics and a prompt-cache miss was found."""
    usage: Usage

    @property
    def text(self) -> str:
        """The concatenated text of every text block."""
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))


# --------------------------------------------------------------------------- results


class MessageBatchSucceededResult(WireModel):
    """The request succeeded: ``message`` holds the model's answer."""

    type: Literal["succeeded"] = "succeeded"
    message: Message


class MessageBatchErroredResult(WireModel):
    """The request failed: the error kind is at ``error.error.type``."""

    type: Literal["errored"] = "errored"
    error: ErrorResponse


class MessageBatchCanceledResult(WireModel):
    """The batch was canceled before this request was processed."""

    type: Literal["canceled"] = "canceled"


class MessageBatchExpiredResult(WireModel):
    """The request was not processed within the batch's 24 hours."""

    type: Literal["expired"] = "expired"


_KNOWN_RESULTS = frozenset({"succeeded", "errored", "canceled", "expired"})


class MessageBatchUnknownResult(WireModel):
    """A result of a type this version does not model; every field is kept."""

    type: Annotated[str, _unknown(_KNOWN_RESULTS)]


MessageBatchResult: TypeAlias = Annotated[
    Annotated[
        MessageBatchSucceededResult
        | MessageBatchErroredResult
        | MessageBatchCanceledResult
        | MessageBatchExpiredResult,
        Field(discriminator="type"),
    ]
    | MessageBatchUnknownResult,
    Field(union_mode="left_to_right"),
]
"""The outcome of one request, discriminated by ``type`` with a fallback for new types."""


class MessageBatchIndividualResponse(WireModel):
    """One line of a batch's results file: a request's ``custom_id`` and its ``result``."""

    custom_id: str
    result: MessageBatchResult


# --------------------------------------------------------------------------- create side


class CreateModel(BaseModel):
    """Base of the create-side models: no unknown keys, values checked on assignment."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MessageParam(BaseModel):
    """One input turn: a role and its content (a string or a list of content blocks)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["user", "assistant"] | str
    content: str | list[dict[str, Any]]


class MessageCreateParams(BaseModel):
    """The Messages API parameters of one batched request.

    ``model``, ``max_tokens`` (at least 1) and ``messages`` are required; the other
    documented fields are optional, and fields this version does not know are kept and
    sent as given, so new API features need no library upgrade. ``stream`` may not be
    true inside a batch.
    """

    model_config = ConfigDict(extra="allow")

    model: str
    max_tokens: int = Field(ge=1)
    messages: list[MessageParam]
    system: str | list[dict[str, Any]] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    service_tier: str | None = None
    stream: bool | None = None


class Request(CreateModel):
    """One request of a batch: a ``custom_id`` unique in the batch and its ``params``."""

    custom_id: str
    params: MessageCreateParams


class BatchCreateParams(CreateModel):
    """The body of a create: the list of requests."""

    requests: list[Request]
