"""Small factories of wire models for the operator tests, built from wire-shaped dicts."""

from __future__ import annotations

from typing import Any

from rxbatches import Message, MessageBatch, MessageBatchIndividualResponse, Request

CREATED_AT = "2025-01-01T00:00:00Z"
EXPIRES_AT = "2025-01-02T00:00:00Z"


def message(text: str | None = "hello", *, custom_id: str = "x") -> Message:
    """An assistant message with one text block (none if ``text`` is None)."""
    content: list[dict[str, Any]] = [] if text is None else [{"type": "text", "text": text}]
    return Message.model_validate(
        {
            "id": f"msg_{custom_id}",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": content,
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 5},
        }
    )


def response(custom_id: str, result: dict[str, Any]) -> MessageBatchIndividualResponse:
    """A results line with the given ``result`` object."""
    return MessageBatchIndividualResponse.model_validate({"custom_id": custom_id, "result": result})


def succeeded(custom_id: str, text: str | None = None) -> MessageBatchIndividualResponse:
    """A succeeded result whose message says ``text`` (``answer <custom_id>`` by default)."""
    msg = message(f"answer {custom_id}" if text is None else text, custom_id=custom_id)
    return response(custom_id, {"type": "succeeded", "message": msg.to_wire()})


def errored(custom_id: str, kind: str = "api_error") -> MessageBatchIndividualResponse:
    """An errored result of error type ``kind``."""
    error = {"type": "error", "error": {"type": kind, "message": "boom"}, "request_id": None}
    return response(custom_id, {"type": "errored", "error": error})


def canceled(custom_id: str) -> MessageBatchIndividualResponse:
    """A canceled result."""
    return response(custom_id, {"type": "canceled"})


def expired(custom_id: str) -> MessageBatchIndividualResponse:
    """An expired result."""
    return response(custom_id, {"type": "expired"})


def unknown(custom_id: str, kind: str = "postponed") -> MessageBatchIndividualResponse:
    """A result of a type this version does not know."""
    return response(custom_id, {"type": kind, "until": "tomorrow"})


RESULT_FACTORIES = {
    "succeeded": succeeded,
    "errored": errored,
    "canceled": canceled,
    "expired": expired,
    "unknown": unknown,
}
"""Each result type's factory, by the type's name."""


def request(custom_id: str) -> Request:
    """A create-side request."""
    return Request.model_validate(
        {
            "custom_id": custom_id,
            "params": {
                "model": "claude-test",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"question {custom_id}"}],
            },
        }
    )


def request_dict(custom_id: str) -> dict[str, Any]:
    """A create-side request as a plain dict of the wire shape."""
    return request(custom_id).model_dump(mode="json", exclude_none=True)


def batch(
    batch_id: str = "msgbatch_1",
    *,
    processing: int = 0,
    succeeded: int = 0,
    errored: int = 0,
    canceled: int = 0,
    expired: int = 0,
    status: str | None = None,
) -> MessageBatch:
    """A batch snapshot; its status is ``ended`` when nothing is processing, unless given."""
    ended = processing == 0 if status is None else status == "ended"
    return MessageBatch.model_validate(
        {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": status or ("ended" if ended else "in_progress"),
            "request_counts": {
                "processing": processing,
                "succeeded": succeeded,
                "errored": errored,
                "canceled": canceled,
                "expired": expired,
            },
            "created_at": CREATED_AT,
            "expires_at": EXPIRES_AT,
            "ended_at": CREATED_AT if ended else None,
            "cancel_initiated_at": None,
            "archived_at": None,
            "results_url": f"/v1/messages/batches/{batch_id}/results" if ended else None,
        }
    )
