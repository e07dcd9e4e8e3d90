"""``batch_snapshots()``: the polls of a job's batches."""

from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable

from .._base.models import MessageBatch
from .._jobs.events import BatchSnapshot, JobEvent
from ._choose import choose


def _snapshot(event: JobEvent) -> MessageBatch | None:
    return event.batch if isinstance(event, BatchSnapshot) else None


def batch_snapshots() -> Callable[[Observable[JobEvent]], Observable[MessageBatch]]:
    """Keep the snapshots of a job's batches (each poll of each batch).

    Marble diagram::

        job events:         ──S0──B0──P──B1──P──B0'──P──r──|
        batch_snapshots():  ──────B0─────B1──────B0'───────|

    ``S``: submissions, ``P``: progress, ``r``: results (dropped); ``B``: the
    :class:`~rxbatches.BatchSnapshot` events of batches 0 and 1, emitted as their
    ``batch`` (``B'``: ended).

    Returns:
        An operator from :data:`~rxbatches.JobEvent` to :class:`~rxbatches.MessageBatch`;
        ``ops.group_by(lambda b: b.id)`` then gives one stream per batch, ready for
        :func:`progress`.

    Example:
        >>> job.pipe(rbo.batch_snapshots()).subscribe(lambda b: print(b.id, b.request_counts))
    """
    return choose(_snapshot)
