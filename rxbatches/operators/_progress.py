"""``progress()``: a batch's snapshots as a fraction done and counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reactivex import Observable, abc

from .._models import MessageBatch


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """How far some requests have come: counts, a total and whether it is all over.

    ``succeeded``, ``errored``, ``canceled`` and ``expired`` are what the API reports:
    they stay 0 until a batch has ended, so the useful measure while it runs is
    :attr:`done` (``total - processing``) and :attr:`fraction`.
    """

    total: int
    """The number of requests."""
    processing: int
    """Requests not done yet."""
    succeeded: int
    """Requests that succeeded (known once ended)."""
    errored: int
    """Requests that failed (known once ended)."""
    canceled: int
    """Requests canceled before processing (known once ended)."""
    expired: int
    """Requests not processed in time (known once ended)."""
    ended: bool
    """Whether processing is over: the counts are final and results can be fetched."""

    @property
    def done(self) -> int:
        """Requests whose processing is over, whatever their outcome."""
        return max(0, self.total - self.processing)

    @property
    def fraction(self) -> float:
        """:attr:`done` over :attr:`total`, in ``[0, 1]``; exactly 1.0 once ended."""
        if self.ended:
            return 1.0
        if self.total <= 0:
            return 0.0
        return min(1.0, self.done / self.total)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchProgress(Progress):
    """The :class:`Progress` of one batch, from one of its snapshots."""

    batch_id: str
    """The id of the batch."""
    processing_status: str
    """``in_progress``, ``canceling`` or ``ended`` (or a status this version does not know)."""

    @classmethod
    def from_batch(cls, batch: MessageBatch, total: int | None = None) -> BatchProgress:
        """Read the progress of one snapshot.

        Args:
            batch: The snapshot.
            total: The number of requests in the batch if known from elsewhere; the
                largest of it and the snapshot's sum of counts is used. Without it, a
                batch seen first half done counts only what was left as its total,
                because the API reports nothing but ``processing`` until the end.

        Returns:
            The progress, with ``total`` as described.
        """
        counts = batch.request_counts
        return cls(
            batch_id=batch.id,
            processing_status=batch.processing_status,
            total=max(total or 0, counts.total),
            processing=counts.processing,
            succeeded=counts.succeeded,
            errored=counts.errored,
            canceled=counts.canceled,
            expired=counts.expired,
            ended=batch.ended,
        )


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
        ValueError: If ``total`` is negative.

    Example:
        >>> snapshots.pipe(rbo.progress()).subscribe(
        ...     lambda p: print(f"{p.fraction:.0%} ({p.done}/{p.total})"))
    """
    if total is not None and total < 0:
        raise ValueError(f"total must be at least 0, not {total}")

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
