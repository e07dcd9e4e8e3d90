"""The batch operations of one client as cold Observables, over the bridge.

:class:`RawOperations` binds the coroutines and async generators of
:mod:`rxbatches._service.operations` and :mod:`rxbatches._service.results` to one
client's HTTP layer, options and created-batch memory, and turns them into cold
Observables through the bridge. Each operation is written once here, as an Observable of
:class:`~rxbatches.RawResponse`; :class:`~rxbatches.BatchService` maps ``parse()`` over
those and :class:`~rxbatches.BatchServiceWithRawResponse` hands them out as they are.
The listing and results item streams are here too: they skip the per-item Observable
step (the bridge emits each page or slice in a tight loop), so they are not built on
the raw ones.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Any, TypeVar

from reactivex import Observable
from reactivex import operators as ops

from .._base.body import FileBody
from .._base.checks import check_int, check_seconds
from .._base.models import (
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchIndividualResponse,
    MessageBatchPage,
    Request,
)
from .._base.options import EffectiveOptions, RequestOptions
from .._rx.bridge import Bridge
from .._transport.http import HTTPClient
from .._transport.response import RawResponse
from . import operations as op
from . import results as rs
from .grace import CreatedBatches, until_found_stream

__all__ = ["RawOperations", "parse"]

T = TypeVar("T")


def parse(raw: RawResponse[T]) -> T:
    """``raw.parse()``, as a function to map over an Observable of raw responses."""
    return raw.parse()


class RawOperations:
    """Every batch operation of one service as a cold Observable of raw responses.

    Input is checked where the operation checks it: ids, requests and limits at
    subscribe (failing the subscription), ``interval``, ``not_found_grace``,
    ``max_resumes`` and ``options`` at the call.
    """

    def __init__(
        self,
        http: HTTPClient,
        bridge: Bridge,
        defaults: RequestOptions,
        created: CreatedBatches,
    ) -> None:
        self._http = http
        self._bridge = bridge
        self._defaults = defaults
        self._created = created

    def options(self, options: RequestOptions | None) -> EffectiveOptions:
        """The options of one call: the client's, the service's defaults, then ``options``."""
        return self._http.options.effective(self._defaults.merged(options))

    def create(
        self, requests: Iterable[Request | Mapping[str, Any]], options: RequestOptions | None
    ) -> Observable[RawResponse[MessageBatch]]:
        """``subscribe ──(raw)|``: a create of ``requests`` (an iterator is read once)."""
        http, items, eff = self._http, op.as_sequence(requests), self.options(options)
        created = self._created
        return self._bridge.from_coroutine(lambda: op.create(http, items, eff, created))

    def create_encoded(
        self,
        body: bytes | FileBody,
        options: RequestOptions | None,
        request_count: int | None = None,
    ) -> Observable[MessageBatch]:
        """``subscribe ──(batch)|``: a create of a body already checked and encoded."""
        # For rxbatches._jobs.lifecycle: a job checks and encodes each batch's body itself.
        http, eff = self._http, self.options(options)
        return self._bridge.from_coroutine(
            lambda: op.create_encoded(http, body, eff, request_count, self._created)
        ).pipe(ops.map(parse))

    def retrieve(
        self, message_batch_id: str, options: RequestOptions | None
    ) -> Observable[RawResponse[MessageBatch]]:
        """``subscribe ──(raw)|``: one batch's current state."""
        http, eff, created = self._http, self.options(options), self._created
        return self._bridge.from_coroutine(
            lambda: op.retrieve(http, message_batch_id, eff, created)
        )

    def cancel(
        self, message_batch_id: str, options: RequestOptions | None
    ) -> Observable[RawResponse[MessageBatch]]:
        """``subscribe ──(raw)|``: a cancel, answered in ``canceling`` state."""
        http, eff, created = self._http, self.options(options), self._created
        return self._bridge.from_coroutine(lambda: op.cancel(http, message_batch_id, eff, created))

    def delete(
        self, message_batch_id: str, options: RequestOptions | None
    ) -> Observable[RawResponse[DeletedMessageBatch]]:
        """``subscribe ──(raw)|``: a delete of an ended batch."""
        http, eff, created = self._http, self.options(options), self._created
        return self._bridge.from_coroutine(lambda: op.delete(http, message_batch_id, eff, created))

    def list_pages(
        self,
        limit: int,
        before_id: str | None,
        after_id: str | None,
        options: RequestOptions | None,
    ) -> Observable[RawResponse[MessageBatchPage]]:
        """``──(raw page 1)──(raw page 2)|``: each page fetched when needed."""
        http, eff = self._http, self.options(options)
        return self._bridge.from_async_iterable(
            lambda: op.list_pages(http, limit, before_id, after_id, eff)
        )

    def list_items(
        self,
        limit: int,
        before_id: str | None,
        after_id: str | None,
        options: RequestOptions | None,
    ) -> Observable[MessageBatch]:
        """``──b1──b2──b3─────b4──b5──|``: the batches of each page, fetched when needed."""
        http, eff = self._http, self.options(options)
        return self._bridge.from_async_batches(
            lambda: op.items(op.list_pages(http, limit, before_id, after_id, eff))
        )

    def results(
        self, message_batch_id: str, options: RequestOptions | None, max_resumes: int
    ) -> Observable[RawResponse[rs.ResultChunk]]:
        """``subscribe ──(raw [r1,r2])──(raw [r3])── ... ──|``: one per decoded slice."""
        eff, resumes = self.options(options), check_int("max_resumes", max_resumes, at_least=0)
        return self._bridge.from_async_iterable(
            lambda: self._result_downloads(message_batch_id, eff, resumes)
        )

    def result_items(
        self, message_batch_id: str, options: RequestOptions | None, max_resumes: int
    ) -> Observable[MessageBatchIndividualResponse]:
        """``subscribe ──r1──r2──r3── ... ──rN|``: each result, as the bytes arrive."""
        eff = self.options(options)
        resumes = check_int("max_resumes", max_resumes, at_least=0)
        return self._bridge.from_async_batches(
            lambda: rs.result_items(self._result_downloads(message_batch_id, eff, resumes))
        )

    def _result_downloads(
        self, message_batch_id: str, eff: EffectiveOptions, resumes: int
    ) -> AsyncGenerator[RawResponse[rs.ResultChunk], None]:
        # The results of a batch just created are asked again on a 404, as retrieve is.
        http = self._http
        return until_found_stream(
            self._created,
            message_batch_id,
            eff.not_found_grace,
            lambda: rs.results(http, message_batch_id, eff, resumes),
        )

    def results_dicts(
        self, message_batch_id: str, options: RequestOptions | None, max_resumes: int
    ) -> Observable[RawResponse[rs.DictChunk]]:
        """``subscribe ──(raw [d1,d2])──(raw [d3])── ... ──|``: one per decoded slice."""
        eff, resumes = self.options(options), check_int("max_resumes", max_resumes, at_least=0)
        return self._bridge.from_async_iterable(
            lambda: self._dict_downloads(message_batch_id, eff, resumes)
        )

    def dict_items(
        self, message_batch_id: str, options: RequestOptions | None, max_resumes: int
    ) -> Observable[dict[str, Any]]:
        """``subscribe ──d1──d2──d3── ... ──dN|``: each result as a dict, as bytes arrive."""
        eff = self.options(options)
        resumes = check_int("max_resumes", max_resumes, at_least=0)
        return self._bridge.from_async_batches(
            lambda: rs.result_items(self._dict_downloads(message_batch_id, eff, resumes))
        )

    def _dict_downloads(
        self, message_batch_id: str, eff: EffectiveOptions, resumes: int
    ) -> AsyncGenerator[RawResponse[rs.DictChunk], None]:
        # As _result_downloads, with lines parsed into plain dicts.
        http = self._http
        return until_found_stream(
            self._created,
            message_batch_id,
            eff.not_found_grace,
            lambda: rs.dict_results(http, message_batch_id, eff, resumes),
        )

    def result_blocks(
        self, message_batch_id: str, options: RequestOptions | None, max_resumes: int
    ) -> Observable[rs.ResultBlock]:
        """``subscribe ──(block)──(block)── ... ──|``: the body's lines, undecoded.

        For a job store, which decodes them off the loop and skips the lines a resumed
        download repeats (see :func:`rxbatches._service.results.result_blocks`).
        """
        http, eff = self._http, self.options(options)
        resumes = check_int("max_resumes", max_resumes, at_least=0)
        return self._bridge.from_async_iterable(
            lambda: until_found_stream(
                self._created,
                message_batch_id,
                eff.not_found_grace,
                lambda: rs.result_blocks(http, message_batch_id, eff, resumes),
            )
        )

    def watch(
        self,
        message_batch_id: str,
        interval: float,
        options: RequestOptions | None,
        not_found_grace: float | None = None,
    ) -> Observable[RawResponse[MessageBatch]]:
        """``subscribe ──(raw)──(raw)──(raw ended)|``: a poll every ``interval``."""
        http, eff = self._http, self.options(options)
        every = check_seconds("interval", interval)
        grace = (
            eff.not_found_grace
            if not_found_grace is None
            else check_seconds("not_found_grace", not_found_grace, allow_zero=True)
        )
        return self._bridge.from_async_iterable(
            lambda: op.watch(http, message_batch_id, every, eff, grace)
        )
