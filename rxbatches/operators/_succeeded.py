"""``succeeded()``: keep the messages of the requests that succeeded."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from reactivex import Observable

from .._base.models import Message, MessageBatchIndividualResponse, MessageBatchSucceededResult
from ._choose import choose


class SucceededMessage(NamedTuple):
    """The answer to one request that succeeded, with the ``custom_id`` that names it.

    A named tuple, so ``for custom_id, message in ...`` and ``item.message`` both read well.
    """

    custom_id: str
    """The ``custom_id`` of the request this message answers."""
    message: Message
    """The model's answer."""


def _succeeded_message(response: MessageBatchIndividualResponse) -> SucceededMessage | None:
    result = response.result
    if isinstance(result, MessageBatchSucceededResult):
        return SucceededMessage(response.custom_id, result.message)
    return None


def succeeded() -> Callable[
    [Observable[MessageBatchIndividualResponse]], Observable[SucceededMessage]
]:
    """Keep the results that succeeded, as ``(custom_id, message)`` pairs.

    Errored, canceled, expired and unknown results are dropped; use
    :func:`split_by_type` to see them too. Errors and completion pass through as they are.

    Marble diagram::

        results:      ──s1──e1──s2──c1──|
        succeeded():  ──m1──────m2──────|

    ``s``, ``e``, ``c``: succeeded, errored, canceled results; ``m``: a
    :class:`SucceededMessage` with the same ``custom_id``.

    Returns:
        An operator from individual responses to :class:`SucceededMessage` pairs.

    Example:
        >>> results.pipe(rbo.succeeded()).subscribe(
        ...     lambda pair: print(pair.custom_id, pair.message.usage.output_tokens))
    """
    return choose(_succeeded_message)
