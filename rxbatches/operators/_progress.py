"""``progress()``: a batch's snapshots as a fraction done and counts."""

from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable, abc

from .._base.checks import check_int
from .._base.models import MessageBatch
from .._jobs.progress import BatchProgress


def progress(
    total: int | None = None,
) -> Callable[[Observable[MessageBatch]], Observable[BatchProgress]]:
    """Turn the snapshots of one batch into its :class:`BatchProgress`.

    One progress per snapshot, emitted at once; completion and errors pass through.
    Because the API keeps ``succeeded``, ``errored``, ``canceled`` and ``expired`` at 0
    until the batch has ended, the total is the largest sum of counts seen so far (for a
    batch watched from its creation, the first snapshot's ``processing``), or ``total``
    when larger; :attr:`Progress.done` is then ``total - processing``.

    Watching polls, so successive snapshots are often equal; add
    ``ops.distinct_until_changed()`` to see changes only.

    Marble diagram::

        snapshots:   ──b(4)─────b(3)─────b(1)─────B─────|
        progress():  ──p(0.0)───p(0.25)──p(0.75)──P(1)──|

    ``b(n)``: an ``in_progress`` snapshot with ``n`` requests processing (of 4); ``B``:
    the ``ended`` snapshot; ``p(f)``: a :class:`BatchProgress` of fraction ``f``; ``P``:
    the final one, ``ended=True`` with the final counts.

    Args:
        total: The number of requests in the batch, if known (for instance, the number
            submitted); it lets a watch started midway report the true fraction.

    Returns:
        An operator from :class:`~rxbatches.MessageBatch` snapshots to
        :class:`BatchProgress`. It signals ``ValueError`` through ``on_error`` if the
        snapshots are of several batches (use :func:`combine_progress` for that).

    Raises:
        ValueError: If ``total`` is not ``None`` or an int >= 0.

    Example:
        >>> snapshots.pipe(rbo.progress()).subscribe(
        ...     lambda p: print(f"{p.fraction:.0%} ({p.done}/{p.total})"))
    """
    if total is not None:
        check_int("total", total, at_least=0)

    def operator(source: Observable[MessageBatch]) -> Observable[BatchProgress]:
        def subscribe(
            observer: abc.ObserverBase[BatchProgress],
            scheduler: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            batch_id: str | None = None
            seen_total = total or 0

            def on_next(batch: MessageBatch) -> None:
                nonlocal batch_id, seen_total
                if batch_id is None:
                    batch_id = batch.id
                elif batch.id != batch_id:
                    observer.on_error(
                        ValueError(
                            f"progress() got snapshots of two batches ({batch_id}, {batch.id});"
                            " use combine_progress() for several"
                        )
                    )
                    return
                current = BatchProgress.from_batch(batch, seen_total)
                seen_total = current.total
                observer.on_next(current)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return Observable(subscribe)

    return operator
