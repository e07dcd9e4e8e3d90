"""Map and filter in one step, so the type narrowed by the test is the type emitted."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from reactivex import Observable, abc

_T = TypeVar("_T")
_U = TypeVar("_U")


def choose(
    chooser: Callable[[_T], _U | None],
) -> Callable[[Observable[_T]], Observable[_U]]:
    """Emit ``chooser(item)`` for every item where it is not ``None`` (F#'s ``choose``).

    An exception raised by ``chooser`` goes to ``on_error``.
    """

    def operator(source: Observable[_T]) -> Observable[_U]:
        def subscribe(
            observer: abc.ObserverBase[_U], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            def on_next(item: _T) -> None:
                try:
                    chosen = chooser(item)
                except Exception as error:
                    observer.on_error(error)
                    return
                if chosen is not None:
                    observer.on_next(chosen)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return Observable(subscribe)

    return operator
