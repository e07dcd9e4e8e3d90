"""The batch service: every Message Batches operation as a cold Observable.

Each operation is implemented once (:mod:`rxbatches._service.operations`) and exposed raw, as
Observables of :class:`~rxbatches.RawResponse` (:mod:`rxbatches._service.observables`); the typed
methods of :class:`BatchOperations` (the base of :class:`~rxbatches.BatchService`, which
adds ``run``) map ``parse()`` over those, and
:class:`~rxbatches.BatchServiceWithRawResponse` (:mod:`rxbatches._service.raw`) is a
thin view handing the raw ones out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Self

from reactivex import Observable
from reactivex import operators as ops

from .._base.models import (
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchIndividualResponse,
    MessageBatchPage,
    Request,
)
from .._base.options import RequestOptions
from .._rx.bridge import Bridge
from .._transport.http import HTTPClient
from .grace import CreatedBatches
from .observables import RawOperations, parse
from .raw import DEFAULT_LIST_LIMIT, DEFAULT_MAX_RESUMES, BatchServiceWithRawResponse

__all__ = ["BatchOperations", "JobParts", "job_parts"]


class BatchOperations:
    """Every single Message Batches operation as a cold Observable, typed.

    The base of :class:`~rxbatches.BatchService` (which adds ``run``, a whole job, from
    the layer above), whose docstring says how these behave: cold, aborted on dispose,
    errors in ``on_error``, per-call ``options``, and the 404 grace after a create.
    """

    def __init__(
        self,
        http: HTTPClient,
        bridge: Bridge,
        defaults: RequestOptions | None = None,
        created: CreatedBatches | None = None,
    ) -> None:
        self._http = http
        self._bridge = bridge
        self._defaults = defaults or RequestOptions()
        # Shared by the copies with_options makes: they are one client.
        self._created = (
            created if created is not None else CreatedBatches(http.options.not_found_grace)
        )
        self._raw = RawOperations(http, bridge, self._defaults, self._created)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._http.options.base_url} defaults={self._defaults!r}>"

    @cached_property
    def with_raw_response(self) -> BatchServiceWithRawResponse:
        """A view of this service whose methods emit :class:`~rxbatches.RawResponse` objects."""
        return BatchServiceWithRawResponse(self._raw)

    def with_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        not_found_grace: float | None = None,
    ) -> Self:
        """Return a copy of this service with other defaults (``None`` keeps the current one).

        Raises:
            ValueError: For an invalid value, naming the field.

        Example:
            >>> quick = client.messages.batches.with_options(timeout=10.0, max_retries=0)
        """
        change = RequestOptions(
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers or {},
            extra_query=extra_query or {},
            not_found_grace=not_found_grace,
        )
        return type(self)(self._http, self._bridge, self._defaults.merged(change), self._created)

    # ----------------------------------------------------------------- typed methods

    def create(
        self,
        requests: Iterable[Request | Mapping[str, Any]],
        *,
        options: RequestOptions | None = None,
    ) -> Observable[MessageBatch]:
        """Create a batch of Messages API requests.

        The requests are checked against every rule of the API at subscribe, before
        anything is sent. A create is never retried in a way that could make two
        batches: only failures proving nothing was created (connection refused, 429,
        503, 529) are retried. A failure after the body may have reached the server
        (connection lost or timed out after sending, 500, 502, 504) ends in
        :class:`~rxbatches.CreateOutcomeUnknownError`, which says what to check.

        ::

            subscribe ──(batch)|        bad requests:  subscribe ──X CreateValidationError
            reset after sending:        subscribe ──X CreateOutcomeUnknownError

        Args:
            requests: The requests, as :class:`~rxbatches.Request` models or plain dicts
                (``{"custom_id": ..., "params": {...}}``); an iterator is read once,
                in a worker thread, at the first subscription.
            options: Per-call overrides.

        Returns:
            An Observable of the new :class:`~rxbatches.MessageBatch` (``in_progress``).
        """
        return self._raw.create(requests, options).pipe(ops.map(parse))

    def retrieve(
        self, message_batch_id: str, *, options: RequestOptions | None = None
    ) -> Observable[MessageBatch]:
        """Fetch a batch's current state.

        ::

            subscribe ──(batch)|        unknown id:  subscribe ──X NotFoundError
            just created by this client:  subscribe ─(404)─(404)─(batch)|

        Args:
            message_batch_id: The batch id (``msgbatch_...``); an empty or path-like id
                fails with ``ValueError`` before anything is sent.
            options: Per-call overrides.
        """
        return self._raw.retrieve(message_batch_id, options).pipe(ops.map(parse))

    def list(
        self,
        *,
        limit: int = DEFAULT_LIST_LIMIT,
        before_id: str | None = None,
        after_id: str | None = None,
        options: RequestOptions | None = None,
    ) -> Observable[MessageBatch]:
        """Every batch of the workspace, newest first, fetching pages as they are needed.

        A page is requested only when the previous one has been emitted and the
        subscription is still alive: ``list().pipe(ops.take(5))`` fetches just the pages
        holding those five.

        ::

            page 1           page 2
            ──b1──b2──b3─────b4──b5──|

        Args:
            limit: Batches per page (1 to 1000), not a total: bound the items with
                ``ops.take(n)``.
            before_id: List the batches newer than this id (paging backwards).
            after_id: List the batches older than this id.
            options: Per-call overrides (applied to every page).
        """
        return self._raw.list_items(limit, before_id, after_id, options)

    def list_pages(
        self,
        *,
        limit: int = DEFAULT_LIST_LIMIT,
        before_id: str | None = None,
        after_id: str | None = None,
        options: RequestOptions | None = None,
    ) -> Observable[MessageBatchPage]:
        """The pages of the listing, one item per page, each fetched when needed.

        ::

            ──(page 1)──(page 2)──(last page)|

        Args:
            limit: Batches per page (1 to 1000).
            before_id: List the batches newer than this id (paging backwards).
            after_id: List the batches older than this id.
            options: Per-call overrides.
        """
        return self._raw.list_pages(limit, before_id, after_id, options).pipe(ops.map(parse))

    def cancel(
        self, message_batch_id: str, *, options: RequestOptions | None = None
    ) -> Observable[MessageBatch]:
        """Ask for a batch to be canceled; it answers in ``canceling`` state.

        ::

            subscribe ──(batch: canceling)|

        Args:
            message_batch_id: The batch id.
            options: Per-call overrides.
        """
        return self._raw.cancel(message_batch_id, options).pipe(ops.map(parse))

    def delete(
        self, message_batch_id: str, *, options: RequestOptions | None = None
    ) -> Observable[DeletedMessageBatch]:
        """Delete an ended batch (cancel it first if it is still processing).

        ::

            subscribe ──(deleted)|        not ended yet:  subscribe ──X BadRequestError

        Args:
            message_batch_id: The batch id.
            options: Per-call overrides.
        """
        return self._raw.delete(message_batch_id, options).pipe(ops.map(parse))

    def results_streaming(
        self,
        message_batch_id: str,
        *,
        max_resumes: int = DEFAULT_MAX_RESUMES,
        options: RequestOptions | None = None,
    ) -> Observable[MessageBatchIndividualResponse]:
        """Stream an ended batch's results, one item per line, as the bytes arrive.

        One request to ``/v1/messages/batches/{id}/results`` under the configured base
        URL (no retrieve first; the key never goes to another host). Lines are parsed as
        they arrive in constant memory, whatever the file size; results are not in
        request order: match them by ``custom_id``. Disposing aborts the download.

        A download cut mid-way (connection lost, read timeout) is resumed: downloaded
        again, up to ``max_resumes`` times, skipping the results whose ``custom_id`` was
        already delivered, so every result arrives exactly once. The line cut in half
        is dropped, never reported as malformed. A 64-bit hash of each id delivered
        is kept while the stream runs (8 bytes a result, packed: 0.8 MB for 100,000,
        whatever the cuts); two ids colliding in 64 bits (about 3 in 10 billion for
        100,000 results, and only after a cut) would lose the second.
        ``max_resumes=0`` keeps nothing and ends at the first cut.

        ::

            subscribe ──r1──r2──r3── ... ──rN|
            cut after r2, resumed:  ──r1──r2──────r3── ... ──rN|   (r1, r2 skipped)
            malformed line 17:      ──r1── ... ──r16──X ResultLineError
            cut max_resumes+1 times: ──r1── ... ──X APIConnectionError
            batch not ended yet:    subscribe ──X BadRequestError

        Args:
            message_batch_id: The batch id.
            max_resumes: How many times a download cut mid-way is started again
                (each attempt also gets the request retries of ``options``).
            options: Per-call overrides (``timeout`` is per read: a long download is
                never cut off while bytes keep arriving).

        Raises:
            ValueError: ``max_resumes`` is not an int >= 0 (raised by this call).
        """
        return self._raw.result_items(message_batch_id, options, max_resumes)

    def results(
        self,
        message_batch_id: str,
        *,
        max_resumes: int = DEFAULT_MAX_RESUMES,
        options: RequestOptions | None = None,
    ) -> Observable[MessageBatchIndividualResponse]:
        """The official SDKs' name for :meth:`results_streaming`: the same stream.

        ::

            subscribe ──r1──r2──r3── ... ──rN|

        Args:
            message_batch_id: The batch id.
            max_resumes: How many times a download cut mid-way is started again.
            options: Per-call overrides.

        Raises:
            ValueError: ``max_resumes`` is not an int >= 0 (raised by this call).
        """
        return self.results_streaming(message_batch_id, max_resumes=max_resumes, options=options)

    def results_streaming_dicts(
        self,
        message_batch_id: str,
        *,
        max_resumes: int = DEFAULT_MAX_RESUMES,
        options: RequestOptions | None = None,
    ) -> Observable[dict[str, Any]]:
        """The opt-in fast path of :meth:`results_streaming`: each result as a plain dict.

        Each line is parsed into the dict of its JSON object, without building nor
        validating models, for consumers that read a few fields
        (``item["custom_id"]``, ``item["result"]["type"]``) or store the results as
        they are. With the ``fast`` extra (``pip install 'rxbatches[fast]'``), lines
        are parsed by msgspec, a block at a time: about twice the lines per second of
        :meth:`results_streaming`, and ten times the official SDK's
        (``BENCHMARKS.md``). Without it, pydantic_core parses them, about 1.3 times
        :meth:`results_streaming`. Both give the same dicts and the same errors.
        Nothing is checked beyond each line being a JSON object: a line of another
        shape (a missing ``custom_id``, an unknown result type) arrives as it is.

        Everything else is as :meth:`results_streaming`: one download in constant
        memory, resumed up to ``max_resumes`` times when it is cut mid-way, each
        result delivered exactly once by ``custom_id``; disposing aborts the download.

        ::

            subscribe ──d1──d2──d3── ... ──dN|          (d: dict[str, Any])
            cut after d2, resumed:  ──d1──d2──────d3── ... ──dN|   (d1, d2 skipped)
            line 17 not an object:  ──d1── ... ──d16──X ResultLineError
            batch not ended yet:    subscribe ──X BadRequestError

        Args:
            message_batch_id: The batch id.
            max_resumes: How many times a download cut mid-way is started again.
            options: Per-call overrides (``timeout`` is per read).

        Returns:
            An Observable of one ``dict`` per result line.

        Raises:
            ValueError: ``max_resumes`` is not an int >= 0 (raised by this call).

        Example:
            >>> batches.results_streaming_dicts(batch_id).pipe(
            ...     ops.filter(lambda r: r["result"]["type"] == "succeeded"),
            ...     ops.map(lambda r: r["custom_id"]),
            ... )
        """
        return self._raw.dict_items(message_batch_id, options, max_resumes)

    def watch(
        self,
        message_batch_id: str,
        *,
        interval: float = 5.0,
        not_found_grace: float | None = None,
        options: RequestOptions | None = None,
    ) -> Observable[MessageBatch]:
        """Poll a batch until it has ended: a snapshot now, then one every ``interval``.

        One poll at a time: the next waits ``interval`` after the previous answer, so a
        slow answer delays it and polls never overlap. Completes right after the first
        snapshot whose ``processing_status`` is ``ended``. Transient failures are retried
        by the request policy; once retries are exhausted the error ends the stream.

        A batch just created may answer 404 for a moment: until the first snapshot, a
        404 is asked again (0.1 s, 0.2 s, 0.4 s... at most 1 s apart) during
        ``not_found_grace`` seconds from the first 404, then reported, whoever
        created the batch (``watch`` is also how a batch created elsewhere is
        followed). A 404 after a snapshot (the batch was deleted) is reported at once.

        ::

            subscribe ──s1─────s2─────s3(ended)|
                        |<--->|  interval (after each answer)
            just created:  subscribe ─(404)─(404)─s1─────s2(ended)|
            unknown id:    subscribe ─(404)─···─(404)──X NotFoundError  (after the grace)

        Args:
            message_batch_id: The batch id.
            interval: Seconds between the end of one poll and the start of the next.
            not_found_grace: Seconds during which a 404 before the first snapshot is
                asked again (``0``: report it at once); ``None`` takes the
                ``not_found_grace`` of ``options``, else of the client (default
                :data:`~rxbatches._base.options.DEFAULT_NOT_FOUND_GRACE`, 2 s).
            options: Per-call overrides (applied to every poll).

        Raises:
            ValueError: ``interval`` is not a number > 0, or ``not_found_grace`` not a
                number >= 0 (raised by this call).
        """
        return self._raw.watch(message_batch_id, interval, options, not_found_grace).pipe(
            ops.map(parse)
        )


@dataclass(frozen=True, slots=True)
class JobParts:
    """What the job layer (:mod:`rxbatches._jobs`) builds on, from one service."""

    operations: BatchOperations
    """The typed operations (watch, results, list, cancel...)."""
    raw: RawOperations
    """The raw ones, for ``create_encoded``: a job checks and encodes its bodies itself."""
    bridge: Bridge
    """The client's bridge, to make the job's own Observables."""


def job_parts(service: BatchOperations) -> JobParts:
    """The parts of ``service`` a job runs on (its options and created-batch memory)."""
    return JobParts(service, service._raw, service._bridge)
