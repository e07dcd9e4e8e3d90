"""``job_progress()``: the progress of a whole job, from its events."""

from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable

from .._jobs.events import JobEvent, JobProgressed
from .._jobs.progress import JobProgress
from ._choose import choose


def _progress(event: JobEvent) -> JobProgress | None:
    return event.progress if isinstance(event, JobProgressed) else None


def job_progress() -> Callable[[Observable[JobEvent]], Observable[JobProgress]]:
    """Keep the progress of the whole job, one :class:`JobProgress` per change.

    The job computes it with every batch's size (and the input's ``len()`` when it has
    one; otherwise the total grows as the input is read). The last item has
    ``ended=True`` and ``fraction == 1.0`` once the input is exhausted and every batch
    has ended; the results may then still be streaming.

    Marble diagram::

        job events:      ──S──P(0)──B──P(.5)──B'──P(1)──r──r──|
        job_progress():  ─────p(0)────p(.5)───────P(1)────────|

    ``S``, ``B``, ``r``: submissions, snapshots and results (dropped); ``P(f)``: the
    :class:`~rxbatches.JobProgressed` events, emitted as their ``progress`` of fraction
    ``f``.

    Returns:
        An operator from :data:`~rxbatches.JobEvent` to :class:`JobProgress`.

    Example:
        >>> job.pipe(rbo.job_progress()).subscribe(lambda p: print(f"{p.fraction:.0%}"))
    """
    return choose(_progress)
