"""The Observable class rxbatches hands out: reactivex's, with a repr that says how to use it.

A forgotten ``.run()`` or subscribe shows the repr instead of any result; reactivex's
(``<reactivex.observable.observable.Observable object at 0x...>``) gives no hint that
nothing was sent, or what to do instead. Everything else is reactivex's own behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from reactivex import Observable, abc

__all__ = ["HINT", "RxBatchesObservable", "create"]

_T = TypeVar("_T")

HINT = (
    "<rxbatches Observable: cold, nothing is sent until it is subscribed to; "
    "take its items with rxbatches.iterate(obs) or rxbatches.to_list(obs), "
    "its last one with obs.run(), or await obs inside a coroutine>"
)
"""The repr of every :class:`RxBatchesObservable`."""


class RxBatchesObservable(Observable[_T]):
    """A reactivex Observable whose repr tells a newcomer that it is cold and how to run it.

    ``pipe`` keeps the class when the operators return a plain Observable (``ops.map``,
    ``rbo.texts()``...), so a pipeline built on an rxbatches source shows the hint too;
    any other result (a ``ConnectableObservable``, a ``Future``, a value) is returned
    as it is. The wrapper adds no work per item: it subscribes straight to the piped
    Observable's own subscribe function.
    """

    def __repr__(self) -> str:
        return HINT

    if not TYPE_CHECKING:
        # Hidden from type checkers, which keep reactivex's typed overloads of pipe.

        def pipe(self, *operators: Callable[[Any], Any]) -> Any:
            """Apply ``operators`` left to right, as ``reactivex.Observable.pipe`` does."""
            result = super().pipe(*operators)
            if type(result) is Observable:
                # _subscribe_core is the Observable's whole subscribe logic minus the
                # AutoDetachObserver, which our own subscribe() adds once.
                return RxBatchesObservable(result._subscribe_core)
            return result


def create(
    subscribe: Callable[[abc.ObserverBase[_T], abc.SchedulerBase | None], abc.DisposableBase],
) -> Observable[_T]:
    """``reactivex.create`` making an :class:`RxBatchesObservable`.

    ::

        subscribe(observer, scheduler) ──a──b──|   (whatever ``subscribe`` emits)
    """
    return RxBatchesObservable(subscribe)
