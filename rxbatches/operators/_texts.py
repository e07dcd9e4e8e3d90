"""``texts()``: the text of every message that succeeded."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from reactivex import Observable

from .._base.models import MessageBatchIndividualResponse, MessageBatchSucceededResult
from ._choose import choose


class MessageText(NamedTuple):
    """The text of the answer to one request that succeeded, with its ``custom_id``."""

    custom_id: str
    """The ``custom_id`` of the request this text answers."""
    text: str
    """The concatenated text of the message's text blocks (``""`` when it has none)."""


def _message_text(response: MessageBatchIndividualResponse) -> MessageText | None:
    result = response.result
    if isinstance(result, MessageBatchSucceededResult):
        return MessageText(response.custom_id, result.message.text)
    return None


def texts() -> Callable[[Observable[MessageBatchIndividualResponse]], Observable[MessageText]]:
    """Keep the results that succeeded, as ``(custom_id, text)`` pairs.

    The text joins every text block of the message (:attr:`Message.text`); a message
    without text blocks (only a tool call, say) gives ``""`` rather than disappearing, so
    there is one pair per succeeded request. Other results are dropped.

    Marble diagram::

        results:  ──s1──e1──s2──x1──|
        texts():  ──t1──────t2──────|

    ``s``: succeeded, ``e``: errored, ``x``: expired results; ``t``: a
    :class:`MessageText` with the same ``custom_id``.

    Returns:
        An operator from individual responses to :class:`MessageText` pairs.

    Example:
        >>> results.pipe(rbo.texts()).subscribe(lambda t: print(f"{t.custom_id}: {t.text}"))
    """
    return choose(_message_text)
