"""The raw view of the batch service: ``client.messages.batches.with_raw_response``."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from typing import Any

from reactivex import Observable

from .._base.models import (
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchIndividualResponse,
    MessageBatchPage,
    Request,
)
from .._base.options import RequestOptions
from .._transport.response import RawResponse
from .observables import RawOperations

__all__ = ["BatchServiceWithRawResponse"]

DEFAULT_LIST_LIMIT = 20

DEFAULT_MAX_RESUMES = 3
"""How many times a results download cut mid-way is started again, by default."""


class BatchServiceWithRawResponse:
    """The methods of :class:`BatchService`, emitting :class:`~rxbatches.RawResponse` objects.

    Each raw item carries ``status_code``, ``headers``, ``request_id``, ``retries_taken``
    and ``parse()``; one raw item per HTTP response (``list``, ``list_pages`` and
    ``watch`` emit one per page or poll), except for results:

    - ``results_streaming`` emits ``RawResponse[list[MessageBatchIndividualResponse]]``
      items, one per slice of the body (at most 8 KiB, as it arrives) that completed at
      least one line, all with the status and headers of the one results response. The
      lines are decoded as they arrive (the decoder is stateful), so ``parse()`` returns
      them at once and ``content`` is ``None``: a raw response object holding an open
      body would let it outlive the subscription that must abort it.

    Example:
        >>> raw = await client.messages.batches.with_raw_response.retrieve(batch_id)
        >>> raw.request_id, raw.parse().processing_status
    """

    def __init__(self, raw: RawOperations) -> None:
        self._raw = raw

    def create(
        self,
        requests: Iterable[Request | Mapping[str, Any]],
        *,
        options: RequestOptions | None = None,
    ) -> Observable[RawResponse[MessageBatch]]:
        """Raw :meth:`BatchService.create`: ``subscribe ──(raw)|``."""
        return self._raw.create(requests, options)

    def retrieve(
        self, message_batch_id: str, *, options: RequestOptions | None = None
    ) -> Observable[RawResponse[MessageBatch]]:
        """Raw :meth:`BatchService.retrieve`: ``subscribe ──(raw)|``."""
        return self._raw.retrieve(message_batch_id, options)

    def list_pages(
        self,
        *,
        limit: int = DEFAULT_LIST_LIMIT,
        before_id: str | None = None,
        after_id: str | None = None,
        options: RequestOptions | None = None,
    ) -> Observable[RawResponse[MessageBatchPage]]:
        """Raw :meth:`BatchService.list_pages`: ``──(raw page 1)──(raw page 2)|``."""
        return self._raw.list_pages(limit, before_id, after_id, options)

    def list(
        self,
        *,
        limit: int = DEFAULT_LIST_LIMIT,
        before_id: str | None = None,
        after_id: str | None = None,
        options: RequestOptions | None = None,
    ) -> Observable[RawResponse[MessageBatchPage]]:
        """Raw :meth:`BatchService.list`: one raw page per response, as :meth:`list_pages`.

        ::

            ──(raw page 1)──(raw page 2)|
        """
        return self._raw.list_pages(limit, before_id, after_id, options)

    def cancel(
        self, message_batch_id: str, *, options: RequestOptions | None = None
    ) -> Observable[RawResponse[MessageBatch]]:
        """Raw :meth:`BatchService.cancel`: ``subscribe ──(raw)|``."""
        return self._raw.cancel(message_batch_id, options)

    def delete(
        self, message_batch_id: str, *, options: RequestOptions | None = None
    ) -> Observable[RawResponse[DeletedMessageBatch]]:
        """Raw :meth:`BatchService.delete`: ``subscribe ──(raw)|``."""
        return self._raw.delete(message_batch_id, options)

    def results_streaming(
        self,
        message_batch_id: str,
        *,
        max_resumes: int = DEFAULT_MAX_RESUMES,
        options: RequestOptions | None = None,
    ) -> Observable[RawResponse[builtins.list[MessageBatchIndividualResponse]]]:
        """Raw :meth:`BatchService.results_streaming`: one raw item per decoded slice.

        A resumed download's items carry its own response's status and headers.

        ::

            subscribe ──(raw [r1,r2])──(raw [r3])── ... ──|
        """
        return self._raw.results(message_batch_id, options, max_resumes)

    def results_streaming_dicts(
        self,
        message_batch_id: str,
        *,
        max_resumes: int = DEFAULT_MAX_RESUMES,
        options: RequestOptions | None = None,
    ) -> Observable[RawResponse[builtins.list[dict[str, Any]]]]:
        """Raw :meth:`BatchService.results_streaming_dicts`: one raw item per decoded slice.

        ::

            subscribe ──(raw [d1,d2])──(raw [d3])── ... ──|
        """
        return self._raw.results_dicts(message_batch_id, options, max_resumes)

    def watch(
        self,
        message_batch_id: str,
        *,
        interval: float = 5.0,
        not_found_grace: float | None = None,
        options: RequestOptions | None = None,
    ) -> Observable[RawResponse[MessageBatch]]:
        """Raw :meth:`BatchService.watch`: ``subscribe ──(raw)──(raw)──(raw ended)|``."""
        return self._raw.watch(message_batch_id, interval, options, not_found_grace)
