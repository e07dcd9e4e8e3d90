"""Index requests by ``custom_id``: the shared step of the operators that look requests up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from .._base.models import Request

RequestT = TypeVar("RequestT", bound="Request | Mapping[str, Any]")
"""A request as the caller gave it: a :class:`Request` or a dict of the wire shape."""


def custom_id_of(request: Request | Mapping[str, Any]) -> str:
    """Return the ``custom_id`` of a request given as a model or as a dict.

    Raises:
        TypeError: If the request is neither, or its ``custom_id`` is not a string.
        ValueError: If a dict has no ``custom_id``.
    """
    if isinstance(request, Request):
        return request.custom_id
    if not isinstance(request, Mapping):
        raise TypeError(f"a request must be a Request or a mapping, not {type(request).__name__}")
    try:
        custom_id = request["custom_id"]
    except KeyError:
        raise ValueError("a request has no custom_id") from None
    if not isinstance(custom_id, str):
        raise TypeError(f"custom_id must be a string, not {type(custom_id).__name__}")
    return custom_id


def index_requests(requests: Iterable[RequestT]) -> dict[str, RequestT]:
    """Map each ``custom_id`` to its request, in the order given.

    Raises:
        TypeError: If a request or its ``custom_id`` has the wrong type.
        ValueError: If a request has no ``custom_id`` or repeats an earlier one: a result
            could not tell which of the two it answers.
    """
    index: dict[str, RequestT] = {}
    for request in requests:
        custom_id = custom_id_of(request)
        if custom_id in index:
            raise ValueError(f"custom_id {custom_id!r} is given twice")
        index[custom_id] = request
    return index
