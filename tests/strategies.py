"""Hypothesis strategies for rxbatches' wire payloads, shared by every test module.

Every strategy draws plain JSON-ready values (what travels on the wire), never models,
so a test can parse them, send them, or compare a model's dump with them. Three
switches recur; with all three off a payload is valid against the official OpenAPI
schemas:

- ``extras``: unknown fields may appear at every level (forward compatibility);
- ``unknown``: open values may take values this version does not know: a
  ``processing_status``, a result or content block ``type``, a ``stop_reason``, an
  error ``type``;
- ``sparse``: fields the models treat as optional may be left out (older or newer
  API versions).

Timestamps are drawn in the forms that the models dump back to the identical string
(see :func:`format_timestamp`); :func:`other_timestamp_forms` draws the other valid
RFC 3339 forms.

Sections: primitives, unknown fields, batches, errors, messages, results, create side.
Strategies for other areas (the emulator...) go in sections of their own below those.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeAlias

from hypothesis import strategies as st

Json: TypeAlias = Any
"""A JSON value: None, bool, int, float, str, or lists and str-keyed dicts of those."""

Payload: TypeAlias = dict[str, Any]
"""A JSON object as it travels on the wire."""


# --------------------------------------------------------------------------- primitives

_CHARS = st.characters(exclude_categories=["Cs"])
"""Any character that UTF-8 can carry (no lone surrogates: the wire is UTF-8)."""

_ID_ALPHABET = string.ascii_letters + string.digits


def texts(*, min_size: int = 0, max_size: int = 24) -> st.SearchStrategy[str]:
    """Unicode text, control characters and astral planes included."""
    return st.text(_CHARS, min_size=min_size, max_size=max_size)


def ids(prefix: str) -> st.SearchStrategy[str]:
    """Object ids in the API's shape: a prefix then letters and digits (``msgbatch_01...``)."""
    return st.text(_ID_ALPHABET, min_size=1, max_size=24).map(lambda tail: prefix + tail)


def json_values(*, max_leaves: int = 6) -> st.SearchStrategy[Json]:
    """Any JSON value, nested a little: what an unknown field may hold."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | texts(max_size=12)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(texts(max_size=8), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def words(*, exclude: Collection[str] = ()) -> st.SearchStrategy[str]:
    """A snake_case word not in ``exclude``: a plausible new enum value or ``type``."""
    return st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(
        lambda word: word not in exclude
    )


# Timestamps. pydantic (2.9 to 2.14, checked by experiment) parses an RFC 3339 string
# into an aware datetime and dumps it as YYYY-MM-DDTHH:MM:SS, then ".ffffff" only when
# the microseconds are not 0, then "Z" for a zero offset or "+HH:MM" / "-HH:MM". Those
# strings come back identical; other valid forms ("+00:00", fewer fraction digits,
# lowercase "t"/"z", a space for "T") come back as the same instant in that form.

_EARLIEST = datetime(2000, 1, 1)
_LATEST = datetime(2199, 12, 31)


def offsets() -> st.SearchStrategy[timezone]:
    """UTC (as the API sends) or a fixed non-zero offset within +-23:59."""
    minutes = st.integers(-(23 * 60 + 59), 23 * 60 + 59).filter(bool)
    return st.just(UTC) | minutes.map(lambda m: timezone(timedelta(minutes=m)))


def aware_datetimes(
    *,
    timezones: st.SearchStrategy[timezone] | None = None,
    min_value: datetime = _EARLIEST,
    max_value: datetime = _LATEST,
) -> st.SearchStrategy[datetime]:
    """Aware datetimes (by default between 2000 and 2199), microseconds included."""
    zones = offsets() if timezones is None else timezones
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=zones)


def format_offset(moment: datetime) -> str:
    """``Z`` for UTC, else ``+HH:MM`` / ``-HH:MM``."""
    offset = moment.utcoffset()
    assert offset is not None, "a wire timestamp carries an offset"
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return "Z"
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def format_timestamp(moment: datetime) -> str:
    """The RFC 3339 form that the models dump back unchanged (the API's form for UTC)."""
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + format_offset(moment)


def timestamps() -> st.SearchStrategy[str]:
    """RFC 3339 timestamps in the form that round-trips to the identical string."""
    return aware_datetimes().map(format_timestamp)


@st.composite
def other_timestamp_forms(draw: st.DrawFn) -> tuple[str, datetime]:
    """A valid RFC 3339 timestamp in any accepted form, and the instant it stands for.

    The forms: ``+00:00`` or ``-00:00`` for UTC, 1 to 6 fraction digits with trailing
    zeros (``.5``, ``.120``, ``.000000``), lowercase ``t`` and ``z``, a space for ``T``.
    Most of them do not come back verbatim from a model.
    """
    digits = draw(st.integers(1, 6))
    step = 10 ** (6 - digits)
    moment = draw(aware_datetimes())
    # Only as many significant fraction digits as will be written, so the text is exact.
    moment = moment.replace(microsecond=moment.microsecond // step * step)
    fraction = f"{moment.microsecond:06d}"[:digits]
    offset = format_offset(moment)
    if offset == "Z":
        offset = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00"]))
    separator = draw(st.sampled_from(["T", "t", " "]))
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}{separator}"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{fraction}{offset}"
    )
    return text, moment


# --------------------------------------------------------------------------- unknown fields

_TRICKY_NAMES = (
    # Names that collide with model attributes, properties or pydantic internals.
    "total",
    "ended",
    "to_wire",
    "model_config",
    "model_fields",
    "model_extra",
    "dict",
    "json",
    "copy",
    "_private",
    "__dict__",
    "",
    " ",
    "é",
)


def unknown_names(known: Collection[str]) -> st.SearchStrategy[str]:
    """Field names that are not among ``known`` (the wire names of the object)."""
    return (st.sampled_from(_TRICKY_NAMES) | texts(max_size=10)).filter(lambda n: n not in known)


@st.composite
def _add_extras(draw: st.DrawFn, payload: Payload, known: Collection[str], extras: bool) -> Payload:
    if not extras:
        return payload
    names = draw(st.lists(unknown_names(known), max_size=3, unique=True))
    return {**payload, **{name: draw(json_values()) for name in names}}


@st.composite
def _drop_optional(
    draw: st.DrawFn, payload: Payload, optional: Collection[str], sparse: bool
) -> Payload:
    if not sparse:
        return payload
    dropped = draw(st.sets(st.sampled_from(sorted(optional)))) if optional else set()
    return {key: value for key, value in payload.items() if key not in dropped}


def _finish(
    draw: st.DrawFn,
    payload: Payload,
    *,
    known: Collection[str],
    optional: Collection[str] = (),
    extras: bool,
    sparse: bool,
) -> Payload:
    return draw(_add_extras(draw(_drop_optional(payload, optional, sparse)), known, extras))


# --------------------------------------------------------------------------- batches

PROCESSING_STATUSES = ("in_progress", "canceling", "ended")
"""The statuses the API documents."""

_COUNT_FIELDS = ("processing", "succeeded", "errored", "canceled", "expired")
_BATCH_FIELDS = (
    "id",
    "type",
    "processing_status",
    "request_counts",
    "created_at",
    "expires_at",
    "ended_at",
    "cancel_initiated_at",
    "archived_at",
    "results_url",
)
_BATCH_OPTIONAL = ("ended_at", "cancel_initiated_at", "archived_at", "results_url")


@st.composite
def _split(draw: st.DrawFn, total: int, parts: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1)))
    return [high - low for low, high in itertools.pairwise([0, *cuts, total])]


@st.composite
def request_counts(
    draw: st.DrawFn,
    *,
    processing: int = 0,
    ended: Mapping[str, int] | None = None,
    extras: bool = False,
    sparse: bool = False,
) -> Payload:
    """A ``request_counts`` object: ``processing`` and the four ended tallies (default 0)."""
    counts = {name: 0 for name in _COUNT_FIELDS}
    counts["processing"] = processing
    counts.update(ended or {})
    return _finish(
        draw, counts, known=_COUNT_FIELDS, optional=_COUNT_FIELDS, extras=extras, sparse=sparse
    )


def results_url(batch_id: str) -> str:
    """The ``results_url`` the API gives an ended batch."""
    return f"https://api.anthropic.com/v1/messages/batches/{batch_id}/results"


@st.composite
def message_batches(
    draw: st.DrawFn,
    *,
    status: str | None = None,
    extras: bool = False,
    unknown: bool = False,
    sparse: bool = False,
) -> Payload:
    """A MessageBatch whose counts and timestamps agree with its status.

    ``in_progress``: every request processing, no end. ``canceling``: the same plus
    ``cancel_initiated_at``. ``ended``: nothing processing, the ended tallies add up to
    the number of requests (``canceled`` only after a cancel), ``ended_at`` and
    ``results_url`` set, sometimes ``archived_at`` (29 days after creation). An unknown
    status (``unknown=True``) gets any mix of counts and timestamps.

    Args:
        status: One status to draw; by default any of :data:`PROCESSING_STATUSES`
            (and, with ``unknown``, a status this version does not know).
        extras: Add unknown fields, in the batch and in its counts.
        unknown: Allow an unknown ``processing_status``.
        sparse: Leave out the nullable timestamps and ``results_url`` sometimes.
    """
    if status is None:
        choices = st.sampled_from(PROCESSING_STATUSES)
        status = draw(choices | words(exclude=PROCESSING_STATUSES) if unknown else choices)
    batch_id = draw(ids("msgbatch_"))
    tz = draw(offsets())
    created = draw(aware_datetimes(timezones=st.just(tz)))
    expires = created + timedelta(hours=24)
    total = draw(st.integers(1, 100_000))

    def within(start: datetime, end: datetime) -> datetime:
        return start + timedelta(
            microseconds=draw(st.integers(0, (end - start) // timedelta(microseconds=1)))
        )

    cancel_at = ended_at = archived_at = None
    counts: Payload
    if status == "in_progress":
        counts = draw(request_counts(processing=total, extras=extras, sparse=sparse))
    elif status == "canceling":
        cancel_at = within(created, expires)
        counts = draw(request_counts(processing=total, extras=extras, sparse=sparse))
    elif status == "ended":
        canceled = draw(st.booleans())
        cancel_at = within(created, expires) if canceled else None
        ended_at = within(cancel_at or created, expires)
        succeeded, errored, cancel_count, expired = draw(_split(total, 4))
        if not canceled:
            succeeded, cancel_count = succeeded + cancel_count, 0
        tallies = {
            "succeeded": succeeded,
            "errored": errored,
            "canceled": cancel_count,
            "expired": expired,
        }
        counts = draw(request_counts(ended=tallies, extras=extras, sparse=sparse))
        archived_at = created + timedelta(days=29) if draw(st.booleans()) else None
    else:
        split = dict(zip(_COUNT_FIELDS, draw(_split(total, 5)), strict=True))
        processing = split.pop("processing")
        counts = draw(
            request_counts(processing=processing, ended=split, extras=extras, sparse=sparse)
        )
        cancel_at, ended_at, archived_at = (
            draw(st.none() | aware_datetimes(timezones=st.just(tz))) for _ in range(3)
        )

    def stamp(moment: datetime | None) -> str | None:
        return None if moment is None else format_timestamp(moment)

    batch = {
        "id": batch_id,
        "type": "message_batch",
        "processing_status": status,
        "request_counts": counts,
        "created_at": stamp(created),
        "expires_at": stamp(expires),
        "ended_at": stamp(ended_at),
        "cancel_initiated_at": stamp(cancel_at),
        "archived_at": stamp(archived_at),
        "results_url": results_url(batch_id) if ended_at is not None else None,
    }
    return _finish(
        draw, batch, known=_BATCH_FIELDS, optional=_BATCH_OPTIONAL, extras=extras, sparse=sparse
    )


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@st.composite
def message_batch_pages(
    draw: st.DrawFn,
    *,
    max_size: int = 4,
    extras: bool = False,
    unknown: bool = False,
    sparse: bool = False,
) -> Payload:
    """A page of a listing: distinct batches, newest first, ``first_id``/``last_id`` to match."""
    batches = draw(
        st.lists(
            message_batches(extras=extras, unknown=unknown, sparse=sparse),
            max_size=max_size,
            unique_by=lambda batch: batch["id"],
        )
    )
    batches.sort(key=lambda batch: _instant(batch["created_at"]), reverse=True)
    page = {
        "data": batches,
        "has_more": draw(st.booleans()) if batches else False,
        "first_id": batches[0]["id"] if batches else None,
        "last_id": batches[-1]["id"] if batches else None,
    }
    return _finish(
        draw,
        page,
        known=("data", "has_more", "first_id", "last_id"),
        optional=("first_id", "last_id"),
        extras=extras,
        sparse=sparse,
    )


@st.composite
def deleted_message_batches(
    draw: st.DrawFn, *, extras: bool = False, unknown: bool = False, sparse: bool = False
) -> Payload:
    """The answer to a delete: ``{"id": ..., "type": "message_batch_deleted"}``."""
    deleted = {"id": draw(ids("msgbatch_")), "type": "message_batch_deleted"}
    return _finish(draw, deleted, known=("id", "type"), extras=extras, sparse=sparse)


# --------------------------------------------------------------------------- errors

ERROR_TYPES = (
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "rate_limit_error",
    "timeout_error",
    "api_error",
    "overloaded_error",
)
"""The ``error.type`` values of the official schema."""

_UNLISTED_ERROR_TYPES = ("request_too_large", "conflict_error")
"""Sent by the API (see the reference notes) but missing from the official schema."""


@st.composite
def error_envelopes(
    draw: st.DrawFn,
    *,
    error_type: str | None = None,
    extras: bool = False,
    unknown: bool = False,
    sparse: bool = False,
) -> Payload:
    """An error envelope ``{"type": "error", "error": {"type", "message"}, "request_id"}``."""
    if error_type is None:
        known = st.sampled_from(ERROR_TYPES)
        others = st.sampled_from(_UNLISTED_ERROR_TYPES) | words(exclude=ERROR_TYPES)
        error_type = draw(known | others if unknown else known)
    error: Payload = {"type": error_type, "message": draw(texts())}
    error = _finish(
        draw, error, known=("type", "message"), optional=("message",), extras=extras, sparse=sparse
    )
    envelope = {
        "type": "error",
        "error": error,
        "request_id": draw(st.none() | ids("req_")),
    }
    return _finish(
        draw,
        envelope,
        known=("type", "error", "request_id"),
        optional=("request_id",),
        extras=extras,
        sparse=sparse,
    )


# --------------------------------------------------------------------------- messages

CONTENT_BLOCK_TYPES = ("text", "thinking", "redacted_thinking", "tool_use")
"""The content block types the models know by name."""

_SPEC_BLOCK_TYPES = (
    *CONTENT_BLOCK_TYPES,
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
    "container_upload",
)

STOP_REASONS = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
)
"""The ``stop_reason`` values of the official schema."""

_CITATION_FIELDS = (
    "type",
    "cited_text",
    "document_index",
    "document_title",
    "start_char_index",
    "end_char_index",
    "file_id",
)


@st.composite
def _citations(draw: st.DrawFn, *, extras: bool) -> Payload:
    start = draw(st.integers(0, 10_000))
    citation = {
        "type": "char_location",
        "cited_text": draw(texts()),
        "document_index": draw(st.integers(0, 20)),
        "document_title": draw(st.none() | texts()),
        "start_char_index": start,
        "end_char_index": start + draw(st.integers(0, 1_000)),
        "file_id": None,
    }
    return _finish(draw, citation, known=_CITATION_FIELDS, extras=extras, sparse=False)


@st.composite
def text_blocks(draw: st.DrawFn, *, extras: bool = False, sparse: bool = False) -> Payload:
    """A ``text`` block, sometimes with citations."""
    citations = draw(st.none() | st.lists(_citations(extras=extras), min_size=1, max_size=2))
    block = {"type": "text", "text": draw(texts(max_size=40)), "citations": citations}
    known = ("type", "text", "citations")
    return _finish(draw, block, known=known, optional=("citations",), extras=extras, sparse=sparse)


@st.composite
def thinking_blocks(draw: st.DrawFn, *, extras: bool = False) -> Payload:
    """A ``thinking`` block with its opaque ``signature``."""
    block = {"type": "thinking", "thinking": draw(texts(max_size=40)), "signature": draw(texts())}
    return _finish(
        draw, block, known=("type", "thinking", "signature"), extras=extras, sparse=False
    )


@st.composite
def redacted_thinking_blocks(draw: st.DrawFn, *, extras: bool = False) -> Payload:
    """A ``redacted_thinking`` block: opaque ``data``."""
    block = {"type": "redacted_thinking", "data": draw(texts())}
    return _finish(draw, block, known=("type", "data"), extras=extras, sparse=False)


@st.composite
def tool_use_blocks(draw: st.DrawFn, *, extras: bool = False) -> Payload:
    """A ``tool_use`` block: an id, a tool name and a JSON object of input."""
    block = {
        "type": "tool_use",
        "id": draw(ids("toolu_")),
        "name": draw(st.text(_ID_ALPHABET + "_-", min_size=1, max_size=20)),
        "input": draw(st.dictionaries(texts(max_size=8), json_values(), max_size=3)),
        "caller": {"type": "direct"},
    }
    known = ("type", "id", "name", "input", "caller", "toolset_name")
    return _finish(draw, block, known=known, extras=extras, sparse=False)


@st.composite
def container_upload_blocks(draw: st.DrawFn, *, extras: bool = False) -> Payload:
    """A ``container_upload`` block: in the official schema, but not modelled by name."""
    block = {"type": "container_upload", "file_id": draw(ids("file_"))}
    return _finish(draw, block, known=("type", "file_id"), extras=extras, sparse=False)


@st.composite
def unknown_content_blocks(draw: st.DrawFn) -> Payload:
    """A block of a type no schema knows yet, with fields of any shape."""
    kind = draw(words(exclude=_SPEC_BLOCK_TYPES))
    fields = draw(st.dictionaries(unknown_names(("type",)), json_values(), max_size=3))
    return {"type": kind, **fields}


def content_blocks(
    *, extras: bool = False, unknown: bool = False, sparse: bool = False
) -> st.SearchStrategy[Payload]:
    """Any content block of a message (an unknown type too with ``unknown``)."""
    blocks = (
        text_blocks(extras=extras, sparse=sparse)
        | thinking_blocks(extras=extras)
        | redacted_thinking_blocks(extras=extras)
        | tool_use_blocks(extras=extras)
        | container_upload_blocks(extras=extras)
    )
    return blocks | unknown_content_blocks() if unknown else blocks


_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cache_creation",
    "server_tool_use",
    "service_tier",
    "inference_geo",
    "output_tokens_details",
    "speed",
)


@st.composite
def usages(
    draw: st.DrawFn, *, extras: bool = False, unknown: bool = False, sparse: bool = False
) -> Payload:
    """A ``usage`` object with every field of the official schema (nullable ones may be null)."""
    tokens = st.integers(0, 1_000_000)

    def maybe(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(st.none() | strategy)

    tiers = st.sampled_from(["standard", "priority", "batch"])
    speeds = st.sampled_from(["standard", "fast"])
    usage = {
        "input_tokens": draw(tokens),
        "output_tokens": draw(tokens),
        "cache_creation_input_tokens": maybe(tokens),
        "cache_read_input_tokens": maybe(tokens),
        "cache_creation": maybe(
            st.fixed_dictionaries(
                {"ephemeral_1h_input_tokens": tokens, "ephemeral_5m_input_tokens": tokens}
            )
        ),
        "server_tool_use": maybe(
            st.fixed_dictionaries({"web_fetch_requests": tokens, "web_search_requests": tokens})
        ),
        "service_tier": maybe(tiers | words() if unknown else tiers),
        "inference_geo": maybe(st.sampled_from(["global", "us"])),
        "output_tokens_details": maybe(st.fixed_dictionaries({"thinking_tokens": tokens})),
        "speed": maybe(speeds | words() if unknown else speeds),
    }
    return _finish(
        draw, usage, known=_USAGE_FIELDS, optional=_USAGE_FIELDS[2:], extras=extras, sparse=sparse
    )


_MESSAGE_FIELDS = (
    "id",
    "type",
    "role",
    "model",
    "content",
    "stop_reason",
    "stop_sequence",
    "stop_details",
    "usage",
    "container",
    "diagnostics",
)


def _diagnostics() -> st.SearchStrategy[Payload]:
    """``diagnostics``: a pending diagnosis, or a cache miss of the SDK's kinds."""
    changed = st.sampled_from(
        ["model_changed", "system_changed", "tools_changed", "messages_changed"]
    )
    reason = st.sampled_from([{"type": "previous_message_not_found"}, {"type": "unavailable"}]) | (
        st.builds(lambda k, n: {"type": k, "cache_missed_input_tokens": n}, changed, st.integers(0))
    )
    return st.fixed_dictionaries({"cache_miss_reason": st.none() | reason})


@st.composite
def messages(
    draw: st.DrawFn, *, extras: bool = False, unknown: bool = False, sparse: bool = False
) -> Payload:
    """An assistant Message, as a succeeded result carries it."""
    reasons = st.sampled_from(STOP_REASONS)
    stop_reason = draw(st.none() | (reasons | words(exclude=STOP_REASONS) if unknown else reasons))
    message = {
        "id": draw(ids("msg_")),
        "type": "message",
        "role": "assistant",
        "model": draw(st.sampled_from(["claude-opus-4-5", "claude-haiku-4-5"]) | texts()),
        "content": draw(
            st.lists(content_blocks(extras=extras, unknown=unknown, sparse=sparse), max_size=4)
        ),
        "stop_reason": stop_reason,
        "stop_sequence": draw(texts(min_size=1)) if stop_reason == "stop_sequence" else None,
        "stop_details": None,
        "usage": draw(usages(extras=extras, unknown=unknown, sparse=sparse)),
        "container": None,
        "diagnostics": draw(st.none() | _diagnostics()),
    }
    optional = ("stop_reason", "stop_sequence", "stop_details", "container", "diagnostics")
    return _finish(
        draw, message, known=_MESSAGE_FIELDS, optional=optional, extras=extras, sparse=sparse
    )


# --------------------------------------------------------------------------- results

RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")
"""The result types the API documents."""


@st.composite
def results(
    draw: st.DrawFn,
    *,
    result_type: str | None = None,
    extras: bool = False,
    unknown: bool = False,
    sparse: bool = False,
) -> Payload:
    """The ``result`` member of a results line, of the given type or any type."""
    if result_type is None:
        known = st.sampled_from(RESULT_TYPES)
        result_type = draw(known | words(exclude=RESULT_TYPES) if unknown else known)
    if result_type == "succeeded":
        message = messages(extras=extras, unknown=unknown, sparse=sparse)
        result = {"type": "succeeded", "message": draw(message)}
    elif result_type == "errored":
        error = error_envelopes(extras=extras, unknown=unknown, sparse=sparse)
        result = {"type": "errored", "error": draw(error)}
    elif result_type in RESULT_TYPES:
        result = {"type": result_type}
    else:
        # A type no version knows yet may carry anything, even a known member's name.
        member = st.sampled_from(["message", "error"]) | unknown_names(("type",))
        return {"type": result_type, **draw(st.dictionaries(member, json_values(), max_size=3))}
    return _finish(draw, result, known=("type", "message", "error"), extras=extras, sparse=False)


@st.composite
def individual_responses(
    draw: st.DrawFn,
    *,
    custom_id: str | None = None,
    result_type: str | None = None,
    extras: bool = False,
    unknown: bool = False,
    sparse: bool = False,
) -> Payload:
    """One line of a results file: ``{"custom_id": ..., "result": {...}}``."""
    line = {
        "custom_id": draw(custom_ids()) if custom_id is None else custom_id,
        "result": draw(
            results(result_type=result_type, extras=extras, unknown=unknown, sparse=sparse)
        ),
    }
    return _finish(draw, line, known=("custom_id", "result"), extras=extras, sparse=False)


# --------------------------------------------------------------------------- create side

CUSTOM_ID_ALPHABET = string.ascii_letters + string.digits + "_-"
"""The characters a ``custom_id`` may hold."""


def custom_ids() -> st.SearchStrategy[str]:
    """Valid ``custom_id`` values: 1 to 64 of letters, digits, ``_`` and ``-``."""
    return st.text(CUSTOM_ID_ALPHABET, min_size=1, max_size=64) | st.text(
        CUSTOM_ID_ALPHABET, min_size=64, max_size=64
    )


_LOOKALIKES = (
    " ",
    ".",
    "\n",
    "\t",
    "é",
    "ß",
    "\u212a",  # KELVIN SIGN: matches [a-z] only under re.IGNORECASE
    "\u0661",  # ARABIC-INDIC DIGIT ONE: matches \d but not [0-9]
    "\uff41",  # FULLWIDTH LATIN SMALL LETTER A
    "\u00a0",
    "\u200b",
    "/",
    "+",
    "\U0001f600",
)


@st.composite
def invalid_custom_ids(draw: st.DrawFn) -> str:
    """``custom_id`` values the API rejects: empty, too long, or with a foreign character."""
    kind = draw(st.sampled_from(["empty", "long", "foreign", "newline"]))
    if kind == "empty":
        return ""
    if kind == "long":
        return draw(st.text(CUSTOM_ID_ALPHABET, min_size=65, max_size=80))
    valid = draw(st.text(CUSTOM_ID_ALPHABET, min_size=0, max_size=63))
    if kind == "newline":
        # "$" also matches before a final newline: a regex check must not use re.match.
        return (valid or "a") + "\n"
    at = draw(st.integers(0, len(valid)))
    foreign = draw(
        st.sampled_from(_LOOKALIKES) | _CHARS.filter(lambda c: c not in CUSTOM_ID_ALPHABET)
    )
    return valid[:at] + foreign + valid[at:]


_PARAMS_FIELDS = (
    "model",
    "max_tokens",
    "messages",
    "system",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "metadata",
    "thinking",
    "service_tier",
    "stream",
    "cache_control",
    "container",
    "inference_geo",
    "output_config",
)


def input_messages() -> st.SearchStrategy[Payload]:
    """One input turn: a role and a string or a list of text blocks."""
    blocks = st.lists(
        st.fixed_dictionaries({"type": st.just("text"), "text": texts(min_size=1)}),
        min_size=1,
        max_size=2,
    )
    return st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant"]), "content": texts(min_size=1) | blocks}
    )


@st.composite
def message_create_params(draw: st.DrawFn, *, extras: bool = False) -> Payload:
    """Valid Messages API parameters for a batched request.

    Args:
        extras: Add fields this version does not know; they must pass through.
    """
    params = {
        "model": draw(st.sampled_from(["claude-opus-4-5", "claude-haiku-4-5"]) | texts(min_size=1)),
        "max_tokens": draw(st.integers(1, 64_000)),
        "messages": draw(st.lists(input_messages(), min_size=1, max_size=3)),
    }
    unit = st.floats(0, 1)
    optional = st.fixed_dictionaries(
        {},
        optional={
            "system": texts()
            | st.lists(
                st.fixed_dictionaries({"type": st.just("text"), "text": texts(min_size=1)}),
                max_size=2,
            ),
            "temperature": unit,
            "top_p": unit,
            "top_k": st.integers(0, 500),
            "stop_sequences": st.lists(texts(min_size=1), max_size=3),
            "metadata": st.fixed_dictionaries({"user_id": st.text(_ID_ALPHABET, max_size=20)}),
            "thinking": st.fixed_dictionaries(
                {"type": st.just("enabled"), "budget_tokens": st.integers(1024, 32_000)}
            ),
            "tools": st.lists(
                st.fixed_dictionaries(
                    {
                        "name": st.text(_ID_ALPHABET, min_size=1, max_size=20),
                        "input_schema": st.just({"type": "object"}),
                    }
                ),
                max_size=2,
            ),
            "tool_choice": st.just({"type": "auto"}),
            "service_tier": st.sampled_from(["auto", "standard_only"]),
            "stream": st.just(False),
        },
    )
    params.update(draw(optional))
    return _finish(draw, params, known=_PARAMS_FIELDS, extras=extras, sparse=False)


@st.composite
def create_requests(
    draw: st.DrawFn, *, custom_id: str | None = None, extras: bool = False
) -> Payload:
    """A valid request of a create: ``{"custom_id": ..., "params": {...}}``.

    Args:
        custom_id: The id to use; by default a drawn valid one.
        extras: Add unknown fields to ``params`` (allowed, passed through); a request
            itself never gets unknown keys, those are forbidden.
    """
    return {
        "custom_id": draw(custom_ids()) if custom_id is None else custom_id,
        "params": draw(message_create_params(extras=extras)),
    }


@st.composite
def create_request_lists(
    draw: st.DrawFn, *, min_size: int = 1, max_size: int = 5, extras: bool = False
) -> list[Payload]:
    """A valid list of requests: distinct ``custom_id`` values."""
    return draw(
        st.lists(
            create_requests(extras=extras),
            min_size=min_size,
            max_size=max_size,
            unique_by=lambda request: str(request["custom_id"]),
        )
    )


def _without(path: tuple[str, ...]) -> Callable[[Payload], Payload]:
    def mutate(request: Payload) -> Payload:
        head, *rest = path
        if not rest:
            return {key: value for key, value in request.items() if key != head}
        return {**request, head: _without(tuple(rest))(request[head])}

    return mutate


@st.composite
def broken_create_requests(draw: st.DrawFn) -> Any:
    """A request that breaks exactly one rule of a create (or is not an object at all).

    The rules: a ``custom_id`` of the wrong shape, a missing ``custom_id``, ``params``,
    ``model``, ``max_tokens`` or ``messages``, ``max_tokens`` below 1, ``stream: true``,
    an unknown key beside ``custom_id`` and ``params``, a value of a type that no
    coercion accepts, a message without ``content``.
    """
    request = draw(create_requests())
    params = request["params"]
    not_text = st.integers() | st.none() | st.lists(st.integers(), max_size=1)
    # Nothing that lax validation would coerce to an int ("5", 5.0, True).
    not_int = (
        st.none()
        | st.sampled_from(["", "many", "1.5", "-"])
        | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
        | st.lists(st.integers(), max_size=1)
    )
    breaks: dict[str, Callable[[], Any]] = {
        "custom_id pattern": lambda: {**request, "custom_id": draw(invalid_custom_ids())},
        "custom_id type": lambda: {**request, "custom_id": draw(not_text)},
        "custom_id missing": lambda: _without(("custom_id",))(request),
        "params missing": lambda: _without(("params",))(request),
        "params type": lambda: {**request, "params": draw(texts() | st.lists(st.integers()))},
        "model missing": lambda: _without(("params", "model"))(request),
        "model type": lambda: {**request, "params": {**params, "model": draw(not_text)}},
        "max_tokens missing": lambda: _without(("params", "max_tokens"))(request),
        "max_tokens below 1": lambda: {
            **request,
            "params": {**params, "max_tokens": draw(st.integers(max_value=0))},
        },
        "max_tokens type": lambda: {**request, "params": {**params, "max_tokens": draw(not_int)}},
        "messages missing": lambda: _without(("params", "messages"))(request),
        "messages type": lambda: {
            **request,
            "params": {**params, "messages": draw(texts() | st.integers())},
        },
        "message content missing": lambda: {
            **request,
            "params": {**params, "messages": [{"role": "user"}]},
        },
        "stream true": lambda: {**request, "params": {**params, "stream": True}},
        "unknown key": lambda: {
            **request,
            draw(unknown_names(("custom_id", "params"))): draw(json_values()),
        },
        "not an object": lambda: draw(not_text | texts()),
    }
    return breaks[draw(st.sampled_from(sorted(breaks)))]()


@st.composite
def mixed_create_requests(draw: st.DrawFn, *, max_size: int = 5) -> list[Any]:
    """A list of requests: mostly valid, with 0 to 2 broken ones and maybe a repeated id.

    The list may be empty (breaking the 1 request minimum) and may break no rule at
    all; often it breaks exactly one, so a check that misses that rule is caught.
    """
    requests: list[Any] = draw(
        st.lists(
            create_requests(extras=True), max_size=max_size, unique_by=lambda r: r["custom_id"]
        )
    )
    for broken in draw(st.lists(broken_create_requests(), max_size=2)):
        requests.insert(draw(st.integers(0, len(requests))), broken)
    with_ids = [i for i, r in enumerate(requests) if isinstance(r, dict) and "custom_id" in r]
    if len(with_ids) >= 2 and draw(st.booleans()):
        pair = draw(st.lists(st.sampled_from(with_ids), min_size=2, max_size=2, unique=True))
        first, later = sorted(pair)
        requests[later] = {**requests[later], "custom_id": requests[first]["custom_id"]}
    return requests


# --------------------------------------------------------------------------- client


def listing_shapes(*, max_batches: int = 60) -> st.SearchStrategy[tuple[int, int]]:
    """How many batches a workspace holds (0 to ``max_batches``) and a page size for list().

    Page sizes favour the small ones (many pages) but reach past the number of batches.
    """
    return st.tuples(
        st.integers(0, max_batches),
        st.integers(1, 8) | st.integers(1, max_batches + 5) | st.just(1000),
    )
