"""Outcomes of emulated requests: the responder seam and the default deterministic answer.

A responder is called once per request when a batch is created; it decides whether
the request succeeds (with which message), errors (with which error type) and how long
it takes in emulator seconds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from .._base.models import Message, Request

__all__ = [
    "Fail",
    "Outcome",
    "Responder",
    "Succeed",
    "default_message",
    "default_responder",
    "message_to_wire",
]


@dataclass(frozen=True, slots=True)
class Succeed:
    """The request succeeds.

    Attributes:
        message: The assistant message to return (a :class:`Message` or its wire dict);
            ``None`` derives the default deterministic one from the prompt.
        latency: Emulator seconds this request takes; ``None`` uses the emulator's
            ``request_latency``.
    """

    message: Message | Mapping[str, Any] | None = None
    latency: float | None = None


@dataclass(frozen=True, slots=True)
class Fail:
    """The request errors; its result is ``errored`` with this error.

    Attributes:
        error_type: The error kind, found at ``result.error.error.type``.
        message: The human-readable error message.
        latency: Emulator seconds this request takes; ``None`` uses the emulator's
            ``request_latency``.
    """

    error_type: str = "invalid_request_error"
    message: str = "The emulator was told to fail this request."
    latency: float | None = None


Outcome: TypeAlias = Succeed | Fail
"""What a responder decides for one request."""

Responder: TypeAlias = Callable[[Request], Outcome]
"""Decides the outcome of one request; called once per request at create time."""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return ""


def default_message(request: Request) -> dict[str, Any]:
    """Build the deterministic assistant message for a request, as a wire dict.

    The same prompt (model, system, messages, max_tokens) always gives the same text and
    usage; the message id also depends on ``custom_id``. ``usage`` counts about four
    characters per token, and a reply longer than ``max_tokens`` is cut with
    ``stop_reason="max_tokens"``. Every field the official SDKs declare is sent, as the
    API sends it: ``usage.speed`` echoes the request's ``speed`` (``"standard"`` when it
    names none) and ``diagnostics`` is ``null`` unless the request's ``diagnostics``
    names a ``previous_message_id`` (then ``previous_message_not_found``: the emulator
    keeps no prompt fingerprints).

    Args:
        request: The batched request.

    Returns:
        A dict with every field the official SDKs' ``Message`` declares.
    """
    params = request.params
    prompt = [_text_of(params.system)] + [_text_of(m.content) for m in params.messages]
    digest = hashlib.blake2b(
        json.dumps([params.model, params.max_tokens, prompt]).encode(), digest_size=12
    ).hexdigest()
    last = next((p for p in reversed(prompt) if p.strip()), "")
    snippet = " ".join(last.split())[:80]
    text = f'Emulated reply {digest[:8]} to "{snippet}".'
    stop_reason = "end_turn"
    if len(text) > params.max_tokens * 4:
        text = text[: params.max_tokens * 4]
        stop_reason = "max_tokens"
    msg_id = hashlib.blake2b((digest + request.custom_id).encode(), digest_size=12).hexdigest()
    extra = params.model_extra or {}
    return {
        "id": f"msg_emu{msg_id}",
        "type": "message",
        "role": "assistant",
        "model": params.model,
        "content": [{"type": "text", "text": text, "citations": None}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "stop_details": None,
        "container": None,
        "diagnostics": _diagnostics(extra.get("diagnostics")),
        "usage": _usage(
            input_tokens=max(1, sum(len(p) for p in prompt) // 4) + 3 * len(params.messages),
            output_tokens=max(1, (len(text) + 3) // 4),
            speed=extra.get("speed"),
        ),
    }


def _diagnostics(asked: Any) -> dict[str, Any] | None:
    """The ``diagnostics`` of a reply: ``null`` unless the request named a previous message.

    The emulator keeps no prompt fingerprints, so a named previous message is never
    found, the answer the API gives for an id it does not know.
    """
    if isinstance(asked, dict) and asked.get("previous_message_id"):
        return {"cache_miss_reason": {"type": "previous_message_not_found"}}
    return None


def _usage(*, input_tokens: int, output_tokens: int, speed: Any = None) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
        "inference_geo": None,
        "output_tokens_details": {"thinking_tokens": 0},
        "server_tool_use": None,
        "service_tier": "batch",
        # The speed mode the request asked for; standard when it named none.
        "speed": speed if speed in ("standard", "fast") else "standard",
    }


_MESSAGE_DEFAULTS: dict[str, Any] = {
    "type": "message",
    "role": "assistant",
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "stop_details": None,
    "container": None,
    "diagnostics": None,
}


# Keys of content blocks the API always sends, filled in when a responder leaves them out.
_BLOCK_DEFAULTS: dict[str, dict[str, Any]] = {
    "text": {"citations": None},
    "tool_use": {"caller": {"type": "direct"}},
}


def message_to_wire(message: Message | Mapping[str, Any]) -> dict[str, Any]:
    """Return a user-supplied message as a wire dict with every required field present.

    Fields the schema requires but the caller left out are filled in with their
    null/neutral values (in the message, its usage and its text and tool_use blocks), so
    results always validate against the official schema and carry every field the
    official SDKs declare.
    """
    wire = message.to_wire() if isinstance(message, Message) else dict(message)
    for key, value in _MESSAGE_DEFAULTS.items():
        wire.setdefault(key, value)
    content = wire.get("content")
    if isinstance(content, list):
        wire["content"] = [
            {**_BLOCK_DEFAULTS[block["type"]], **block}
            if isinstance(block, Mapping) and block.get("type") in _BLOCK_DEFAULTS
            else block
            for block in content
        ]
    usage = dict(wire.get("usage") or {})
    full = _usage(
        input_tokens=int(usage.get("input_tokens", 0)),
        output_tokens=int(usage.get("output_tokens", 0)),
    )
    full.update(usage)
    wire["usage"] = full
    return wire


def default_responder(request: Request) -> Succeed:
    """Succeed with the deterministic message of :func:`default_message`.

    Example:
        >>> def responder(request: Request) -> Outcome:
        ...     if request.custom_id.startswith("bad"):
        ...         return Fail("invalid_request_error", "no thanks")
        ...     return default_responder(request)
    """
    return Succeed(default_message(request))
