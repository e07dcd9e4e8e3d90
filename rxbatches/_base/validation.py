"""The checks the API applies to a create, shared by the client and the emulator.

The client runs them before sending anything, so a bad request fails fast with an error
that names the request index, the field and the rule; the emulator runs the very same
function on the bodies it receives, so both sides agree on what is valid.

Requests are checked and encoded a slice at a time (:data:`~rxbatches._base.offload.SLICE`
requests per pydantic call): run in a worker thread, the work then hands the GIL back to
the event loop between slices instead of holding it for seconds, and a create body is
spooled to a file (:func:`spool_create_body`) without ever holding every request's model
at once, a graph each full garbage collection would have to walk.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .body import FileBody
from .errors import CreateValidationError
from .models import Request
from .offload import SLICE

__all__ = [
    "CUSTOM_ID_PATTERN",
    "MAX_BODY_BYTES",
    "MAX_REQUESTS",
    "encode_create_body",
    "parse_create_body",
    "spool_create_body",
    "validate_requests",
]

CUSTOM_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
"""What a ``custom_id`` must match."""

MAX_REQUESTS = 100_000
"""The most requests one batch may hold."""

MAX_BODY_BYTES = 256 * 1024 * 1024
"""The largest create body, serialised, in bytes."""

_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_REQUESTS: TypeAdapter[list[Request]] = TypeAdapter(list[Request])
_OPEN = b'{"requests":['
_CLOSE = b"]}"


def _field_path(loc: Sequence[int | str]) -> str:
    path = "requests"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _from_pydantic(exc: ValidationError, offset: int) -> CreateValidationError:
    first = exc.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    index = None
    if loc and isinstance(loc[0], int):
        # The error is about an item of a slice: name its index in the whole create.
        index = loc[0] + offset
        loc = (index, *loc[1:])
    rule = first["msg"]
    if first["type"] == "missing":
        rule = "is required"
    elif first["type"] == "extra_forbidden":
        rule = "is not a known field"
    return CreateValidationError(_field_path(loc), rule, index=index)


class _Stopped(Exception):
    """The work was abandoned (its caller went away): nothing to report."""


def _check_rules(models: list[Request], offset: int, seen: dict[str, int]) -> None:
    """The rules pydantic does not know: the id's pattern and uniqueness, no ``stream``."""
    for index, request in enumerate(models, start=offset):
        custom_id = request.custom_id
        if not _CUSTOM_ID.fullmatch(custom_id):
            raise CreateValidationError(
                f"requests[{index}].custom_id",
                f"{custom_id!r} does not match {CUSTOM_ID_PATTERN}",
                index=index,
            )
        first = seen.setdefault(custom_id, index)
        if first != index:
            raise CreateValidationError(
                f"requests[{index}].custom_id",
                f"{custom_id!r} is not unique (also used by requests[{first}])",
                index=index,
            )
        if request.params.stream:
            raise CreateValidationError(
                f"requests[{index}].params.stream", "must not be true in a batch", index=index
            )


def _checked_slices(
    items: Sequence[Request | Mapping[str, Any]], stop: threading.Event | None = None
) -> Iterator[list[Request]]:
    """Check the requests a slice at a time and yield each slice's models.

    The error raised is about the first request (by index) that breaks a rule.

    Raises:
        CreateValidationError: The first rule broken.
        _Stopped: ``stop`` was set between two slices.
    """
    if not items:
        raise CreateValidationError("requests", "must hold at least 1 request")
    if len(items) > MAX_REQUESTS:
        raise CreateValidationError(
            "requests", f"holds {len(items):,} requests; at most {MAX_REQUESTS:,} are allowed"
        )
    seen: dict[str, int] = {}
    for start in range(0, len(items), SLICE):
        if stop is not None and stop.is_set():
            raise _Stopped
        part = items[start : start + SLICE]
        try:
            # Request models were validated when built: pydantic passes them through.
            models = _REQUESTS.validate_python(part)
        except ValidationError as exc:
            error = _from_pydantic(exc, start)
            if error.index is not None and error.index > start:
                # The requests before it are well formed; one of them may still break a
                # rule checked below, and the earlier request is the one to name.
                _check_rules(_REQUESTS.validate_python(part[: error.index - start]), start, seen)
            raise error from None
        _check_rules(models, start, seen)
        yield models


def _as_sequence(
    requests: Iterable[Request | Mapping[str, Any]],
) -> Sequence[Request | Mapping[str, Any]]:
    return requests if isinstance(requests, list | tuple) else list(requests)


def validate_requests(requests: Iterable[Request | Mapping[str, Any]]) -> list[Request]:
    """Check a create's requests against every rule of the API.

    Args:
        requests: The requests, as :class:`Request` models or plain dicts of the wire
            shape (``{"custom_id": ..., "params": {...}}``).

    Returns:
        The requests as validated :class:`Request` models, in order.

    Raises:
        CreateValidationError: For the first request (by index) that breaks a rule: a
            missing or malformed field, a ``custom_id`` that does not match
            ``^[a-zA-Z0-9_-]{1,64}$`` or repeats an earlier one, ``stream: true``; or
            for no requests, or more than 100,000.
    """
    models: list[Request] = []
    for part in _checked_slices(_as_sequence(requests)):
        models += part
    return models


def _encoded_slices(
    requests: Sequence[Request | Mapping[str, Any]], stop: threading.Event | None = None
) -> Iterator[memoryview]:
    """Each slice of the requests checked and serialised, without the list's brackets."""
    for models in _checked_slices(requests, stop):
        encoded = _REQUESTS.dump_json(models, exclude_unset=True, by_alias=True)
        del models  # nothing of a slice outlives its encoding
        yield memoryview(encoded)[1:-1]


def _too_large(size: int) -> CreateValidationError:
    # Raised as soon as the limit is passed: the rest is not encoded only to be counted.
    return CreateValidationError(
        "body", f"is at least {size:,} bytes; at most {MAX_BODY_BYTES:,} are allowed"
    )


def encode_create_body(requests: Iterable[Request | Mapping[str, Any]]) -> bytes:
    """Validate the requests and serialise the create body, checking its size.

    Args:
        requests: The requests, as models or plain dicts.

    Returns:
        The JSON body ``{"requests": [...]}`` as UTF-8 bytes.

    Raises:
        CreateValidationError: For a broken rule (see :func:`validate_requests`) or a
            body larger than 256 MiB.
    """
    body = bytearray(_OPEN)
    for count, piece in enumerate(_encoded_slices(_as_sequence(requests))):
        if count:
            body += b","
        body += piece
        if len(body) + len(_CLOSE) > MAX_BODY_BYTES:
            raise _too_large(len(body) + len(_CLOSE))
    body += _CLOSE
    return bytes(body)


def spool_create_body(
    requests: Sequence[Request | Mapping[str, Any]], stop: threading.Event | None = None
) -> FileBody | None:
    """Validate the requests and write the create body to a spooled :class:`FileBody`.

    Blocking and CPU-heavy: meant for a worker thread (see :mod:`rxbatches._base.offload`).
    The body goes to the file a slice at a time, so neither the whole body nor every
    request's model is ever held in memory.

    Args:
        requests: The requests, as models or plain dicts.
        stop: Set by the caller when it no longer wants the body: the work stops at the
            next slice.

    Returns:
        The body ``{"requests": [...]}`` (the caller closes it), or ``None`` if ``stop``
        was set.

    Raises:
        CreateValidationError: For a broken rule (see :func:`validate_requests`) or a
            body larger than 256 MiB (nothing more is written once it is).
    """
    body = FileBody()
    try:
        body.write(_OPEN)
        for count, piece in enumerate(_encoded_slices(requests, stop)):
            if count:
                body.write(b",")
            body.write(piece)
            if body.size + len(_CLOSE) > MAX_BODY_BYTES:
                raise _too_large(body.size + len(_CLOSE))
        body.write(_CLOSE)
    except _Stopped:
        body.close()
        return None
    except BaseException:
        body.close()
        raise
    return body


def parse_create_body(body: bytes) -> list[Request]:
    """Parse and check a create body as the API receives it (used by the emulator).

    Raises:
        CreateValidationError: For a body that is not JSON, not an object, has keys
            other than ``requests``, is larger than 256 MiB, or breaks a rule of
            :func:`validate_requests`.
    """
    if len(body) > MAX_BODY_BYTES:
        raise CreateValidationError(
            "body", f"is {len(body):,} bytes; at most {MAX_BODY_BYTES:,} are allowed"
        )
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CreateValidationError("body", f"is not valid JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise CreateValidationError("body", "must be a JSON object")
    extra = sorted(set(payload) - {"requests"})
    if extra:
        raise CreateValidationError(extra[0], "is not a known field")
    if "requests" not in payload:
        raise CreateValidationError("requests", "is required")
    requests = payload["requests"]
    if not isinstance(requests, list):
        raise CreateValidationError("requests", "must be a list")
    return validate_requests(requests)
