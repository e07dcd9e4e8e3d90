"""``combine_progress()``: the progress of a job that spans several batches."""

from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable, abc

from .._base.checks import check_int
from .._jobs.progress import BatchProgress, JobProgress


def combine_progress(
    total: int | None = None,
    batches: int | None = None,
) -> Callable[[Observable[BatchProgress]], Observable[JobProgress]]:
    """Fold the progress of several batches into the progress of the whole job.

    The source is the merged :class:`BatchProgress` streams of the job's batches, in any
    interleaving; batches may appear at any time (a job with bounded concurrency creates
    them as earlier ones end). Each item replaces the last one seen for its batch, and a
    :class:`JobProgress` of the sums is emitted at once. The job has ended when every
    batch seen has ended and, if given, ``batches`` of them were seen and ``total``
    requests were covered. Completion and errors pass through.

    Marble diagram::

        batch a:              ──a(2)──────────A───|
        batch b:              ────────b(2)────────────B─────|
        combine_progress(4):  ──j(0)──j(0)────j(.5)───J(1)──|

    ``a(n)``, ``b(n)``: progress of two batches of 2 requests with ``n`` processing,
    merged into the source; ``A``, ``B``: their ended progress; ``j(f)``: a
    :class:`JobProgress` of fraction ``f`` (``total=4``: half the job is unsubmitted
    until ``b`` appears); ``J``: the last one, with ``ended=True``.

    Args:
        total: The number of requests in the whole job, if known: the fraction is then
            measured against it from the first batch on.
        batches: The number of batches of the job, if known: the job has not ended
            before that many were seen.

    Returns:
        An operator from interleaved :class:`BatchProgress` to :class:`JobProgress`.

    Raises:
        ValueError: If ``total`` is not an int >= 0 or ``batches`` an int >= 1 (or ``None``).

    Example:
        >>> import reactivex
        >>> reactivex.merge(
        ...     *(snapshots.pipe(rbo.progress()) for snapshots in watches)
        ... ).pipe(rbo.combine_progress(total=len(requests))).subscribe(
        ...     lambda p: print(f"{p.fraction:.0%} of {p.total} in {p.batches} batches"))
    """
    if total is not None:
        check_int("total", total, at_least=0)
    if batches is not None:
        check_int("batches", batches, at_least=1)
    job_total = total or 0

    def operator(source: Observable[BatchProgress]) -> Observable[JobProgress]:
        def subscribe(
            observer: abc.ObserverBase[JobProgress],
            scheduler: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            latest: dict[str, BatchProgress] = {}

            def on_next(item: BatchProgress) -> None:
                latest[item.batch_id] = item
                seen = latest.values()
                covered = sum(p.total for p in seen)
                unsubmitted = max(0, job_total - covered)
                ended_batches = sum(1 for p in seen if p.ended)
                observer.on_next(
                    JobProgress(
                        total=covered + unsubmitted,
                        processing=sum(p.processing for p in seen) + unsubmitted,
                        succeeded=sum(p.succeeded for p in seen),
                        errored=sum(p.errored for p in seen),
                        canceled=sum(p.canceled for p in seen),
                        expired=sum(p.expired for p in seen),
                        ended=ended_batches == len(latest)
                        and len(latest) >= (batches or 1)
                        and unsubmitted == 0,
                        batches=len(latest),
                        ended_batches=ended_batches,
                        unsubmitted=unsubmitted,
                    )
                )

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return Observable(subscribe)

    return operator
