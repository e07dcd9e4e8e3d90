"""``split_by_type()``: one Observable per result type, sharing one subscription."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, overload

from reactivex import ConnectableObservable, Observable, abc
from reactivex import operators as ops
from reactivex.disposable import Disposable

from .._base.models import MessageBatchIndividualResponse

_T = TypeVar("_T")

_Responses = Observable[MessageBatchIndividualResponse]

KNOWN_RESULT_TYPES = frozenset({"succeeded", "errored", "canceled", "expired"})


def _of_type(kind: str) -> Callable[[MessageBatchIndividualResponse], bool]:
    def test(response: MessageBatchIndividualResponse) -> bool:
        return response.result.type == kind

    return test


def _of_unknown_type(response: MessageBatchIndividualResponse) -> bool:
    return response.result.type not in KNOWN_RESULT_TYPES


class ResultSplit:
    """The results of one stream, split by result type.

    Each attribute is an Observable of the individual responses of one type, in the order
    they came; every one of them ends (with ``on_completed`` or the same ``on_error``)
    when the underlying stream does. Together they see every result exactly once: a
    result type this version does not know goes to :attr:`unknown` instead of being
    dropped.

    All five views share the one subscription to the results stream they were split
    from, which stays a single download however many views are subscribed.
    """

    __slots__ = ("canceled", "errored", "expired", "succeeded", "unknown")

    succeeded: _Responses
    """Results of type ``succeeded`` (``result.message`` holds the answer)."""
    errored: _Responses
    """Results of type ``errored`` (the error kind is at ``result.error.error.type``)."""
    canceled: _Responses
    """Results of type ``canceled``."""
    expired: _Responses
    """Results of type ``expired``."""
    unknown: _Responses
    """Results of a type this version does not model."""

    def __init__(self, shared: _Responses) -> None:
        """Build the five views over an already multicast stream (``publish``, ``share``)."""
        self.succeeded = shared.pipe(ops.filter(_of_type("succeeded")))
        self.errored = shared.pipe(ops.filter(_of_type("errored")))
        self.canceled = shared.pipe(ops.filter(_of_type("canceled")))
        self.expired = shared.pipe(ops.filter(_of_type("expired")))
        self.unknown = shared.pipe(ops.filter(_of_unknown_type))


class ConnectableResultSplit(ResultSplit):
    """A :class:`ResultSplit` that waits for :meth:`connect` before it subscribes.

    Subscribe the views you need first, then call :meth:`connect` once: the results
    stream is subscribed then, and every view subscribed by that time sees every result
    of its type. A view subscribed after ``connect`` only sees what comes after. Disposing
    what :meth:`connect` returned stops the stream.
    """

    __slots__ = ("_connectable",)

    def __init__(self, source: _Responses) -> None:
        """Build the views over ``source``; nothing is subscribed until :meth:`connect`."""
        connectable: ConnectableObservable[MessageBatchIndividualResponse] = source.pipe(
            ops.publish()
        )
        super().__init__(connectable)
        self._connectable = connectable

    def connect(self, scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        """Subscribe to the results stream and feed every view.

        Args:
            scheduler: The default scheduler given to the results stream.

        Returns:
            A disposable that unsubscribes from the results stream: the views then
            receive nothing more, not even ``on_completed``.
        """
        subscription = self._connectable.connect(scheduler)
        # reactivex types connect() as Optional although it always returns a disposable.
        return subscription if subscription is not None else Disposable()


@overload
def split_by_type() -> Callable[[_Responses], ConnectableResultSplit]: ...


@overload
def split_by_type(
    mapper: Callable[[ResultSplit], Observable[_T]],
) -> Callable[[_Responses], Observable[_T]]: ...


def split_by_type(
    mapper: Callable[[ResultSplit], Observable[_T]] | None = None,
) -> Callable[[_Responses], ConnectableResultSplit | Observable[_T]]:
    """Split a results stream into one Observable per result type.

    Like ``reactivex.operators.publish``, it comes in two forms:

    * ``split_by_type(mapper)`` stays cold: each subscription to the Observable it
      returns subscribes to the results once, hands the :class:`ResultSplit` to
      ``mapper`` and emits what ``mapper`` builds from the views. Prefer this form.
    * ``split_by_type()`` returns a :class:`ConnectableResultSplit`: subscribe the
      views, then call ``connect()``.

    Either way the results are downloaded once, whatever the number of views used.

    Marble diagram::

        results:          ──s1──e1──s2──x1──|
        split.succeeded:  ──s1──────s2──────|
        split.errored:    ──────e1──────────|
        split.canceled:   ──────────────────|
        split.expired:    ──────────────x1──|
        split.unknown:    ──────────────────|

    ``s``, ``e``, ``x``: succeeded, errored and expired results, emitted unchanged.

    Args:
        mapper: Builds the output from the views; it runs once per subscription.

    Returns:
        An operator from individual responses to the Observable ``mapper`` builds or,
        without ``mapper``, to a :class:`ConnectableResultSplit`.

    Example:
        >>> import reactivex
        >>> summary = results.pipe(rbo.split_by_type(lambda split: reactivex.zip(
        ...     split.succeeded.pipe(ops.count()), split.errored.pipe(ops.count()))))
        >>> split = results.pipe(rbo.split_by_type())
        >>> split.errored.subscribe(log_error)
        >>> split.succeeded.pipe(rbo.texts()).subscribe(print)
        >>> split.connect()
    """
    if mapper is None:
        return ConnectableResultSplit

    def operator(source: _Responses) -> Observable[_T]:
        def selector(shared: _Responses) -> Observable[_T]:
            return mapper(ResultSplit(shared))

        return source.pipe(ops.publish(selector))

    return operator
