"""``join_requests()``: pair every result with the request it answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic

from reactivex import Observable, abc

from .._base.models import MessageBatchIndividualResponse
from ._index import RequestT, index_requests


@dataclass(frozen=True, slots=True)
class JoinedResult(Generic[RequestT]):
    """A request and its result, matched by ``custom_id``.

    At most one side is missing: :attr:`response` is ``None`` for a request that never
    got a result (:attr:`missing`), :attr:`request` is ``None`` for a result that answers
    no outstanding request (:attr:`unexpected`).
    """

    custom_id: str
    """The ``custom_id`` both sides share."""
    request: RequestT | None
    """The request exactly as it was given to :func:`join_requests`, or ``None``."""
    response: MessageBatchIndividualResponse | None
    """The result line, or ``None`` if the stream ended without one."""

    @property
    def missing(self) -> bool:
        """Whether the request got no result before the stream completed."""
        return self.response is None

    @property
    def unexpected(self) -> bool:
        """Whether the result matches no request (an unknown or repeated ``custom_id``)."""
        return self.request is None


def join_requests(
    requests: Iterable[RequestT],
) -> Callable[[Observable[MessageBatchIndividualResponse]], Observable[JoinedResult[RequestT]]]:
    """Pair every result with its request by ``custom_id``, and report the leftovers.

    Results come in no particular order; each is emitted at once as a
    :class:`JoinedResult`. When the stream completes, every request that got no result is
    emitted with ``response=None`` (in the order the requests were given), then the
    output completes. A result whose ``custom_id`` matches no request, or repeats one
    already answered, is emitted with ``request=None`` rather than dropped. So every
    request appears exactly once, and so does every result.

    On error, the error passes through and no ``missing`` entries are emitted: the
    stream did not end, so nothing is known to be missing.

    The requests are indexed when ``join_requests`` is called (a generator is read once);
    each subscription then keeps its own record of what was answered, so the operator
    may be subscribed any number of times.

    Marble diagram::

        results:              ──r2──r9──r1──|
        join_requests(1,2,3): ──j2──u9──j1──(m3|)

    ``r``: results by ``custom_id``; ``j``: joined pairs; ``u``: an unexpected result
    (no request 9); ``m``: a missing result, emitted at completion.

    Args:
        requests: The requests the results answer, as :class:`~rxbatches.Request` models
            or dicts of the wire shape; :attr:`JoinedResult.request` gives them back as
            they were given.

    Returns:
        An operator from individual responses to :class:`JoinedResult` entries.

    Raises:
        ValueError: If a request has no ``custom_id`` or two requests share one.
        TypeError: If a request is neither a ``Request`` nor a mapping.

    Example:
        >>> results.pipe(rbo.join_requests(requests)).subscribe(
        ...     lambda j: print(j.custom_id, "missing" if j.missing else j.response.result.type))
    """
    index = index_requests(requests)

    def operator(
        source: Observable[MessageBatchIndividualResponse],
    ) -> Observable[JoinedResult[RequestT]]:
        def subscribe(
            observer: abc.ObserverBase[JoinedResult[RequestT]],
            scheduler: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            pending = dict(index)

            def on_next(response: MessageBatchIndividualResponse) -> None:
                request = pending.pop(response.custom_id, None)
                observer.on_next(JoinedResult(response.custom_id, request, response))

            def on_completed() -> None:
                for custom_id, request in pending.items():
                    observer.on_next(JoinedResult(custom_id, request, None))
                pending.clear()
                observer.on_completed()

            return source.subscribe(on_next, observer.on_error, on_completed, scheduler=scheduler)

        return Observable(subscribe)

    return operator
