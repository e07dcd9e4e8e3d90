"""The checks the API applies to a create, shared by the client and the emulator.

The client runs them before sending anything, so a bad request fails fast with an error
that names the request index, the field and the rule; the emulator runs the very same
function on the bodies it receives, so both sides agree on what is valid.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ._errors import CreateValidationError
from ._models import Request

__all__ = [
    "CUSTOM_ID_PATTERN",
    "MAX_BODY_BYTES",
    "MAX_REQUESTS",
    "encode_create_body",
    "parse_create_body",
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
_BODY: TypeAdapter[dict[str, list[Request]]] = TypeAdapter(dict[str, list[Request]])


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around one bulk validation or encoding.

    Validating 100,000 requests allocates millions of objects that live until the end,
    which sets off full collections over and over for nothing: pausing halves the time
    (measured: 2.2 s to 1.05 s for 100,000 requests). A collector the caller had already
    disabled stays disabled.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _field_path(loc: Sequence[int | str]) -> str:
    path = "requests"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _from_pydantic(exc: ValidationError) -> CreateValidationError:
    first = exc.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    index = loc[0] if loc and isinstance(loc[0], int) else None
    rule = first["msg"]
    if first["type"] == "missing":
        rule = "is required"
    elif first["type"] == "extra_forbidden":
        rule = "is not a known field"
    return CreateValidationError(_field_path(loc), rule, index=index)


def validate_requests(requests: Iterable[Request | Mapping[str, Any]]) -> list[Request]:
    """Check a create's requests against every rule of the API.

    Args:
        requests: The requests, as :class:`Request` models or plain dicts of the wire
            shape (``{"custom_id": ..., "params": {...}}``).

    Returns:
        The requests as validated :class:`Request` models, in order.

    Raises:
        CreateValidationError: For the first rule broken: a missing or malformed field,
            a ``custom_id`` that does not match ``^[a-zA-Z0-9_-]{1,64}$`` or repeats an
            earlier one, ``stream: true``, no requests, or more than 100,000.
    """
    items = requests if isinstance(requests, list) else list(requests)
    if not items:
        raise CreateValidationError("requests", "must hold at least 1 request")
    if len(items) > MAX_REQUESTS:
        raise CreateValidationError(
            "requests", f"holds {len(items):,} requests; at most {MAX_REQUESTS:,} are allowed"
        )
    try:
        with _gc_paused():
            # Request models were validated when built: pydantic passes them through.
            models = _REQUESTS.validate_python(items)
    except ValidationError as exc:
        raise _from_pydantic(exc) from None

    seen: dict[str, int] = {}
    for index, request in enumerate(models):
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
    return models


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
    models = validate_requests(requests)
    with _gc_paused():
        # The envelope serialised with the list: wrapping the list's bytes afterwards
        # would copy the whole body once more (140 MB for 100,000 requests).
        body = _BODY.dump_json({"requests": models}, exclude_unset=True, by_alias=True)
    if len(body) > MAX_BODY_BYTES:
        raise CreateValidationError(
            "body", f"is {len(body):,} bytes; at most {MAX_BODY_BYTES:,} are allowed"
        )
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
