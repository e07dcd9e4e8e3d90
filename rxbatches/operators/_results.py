"""``results()``: the result lines of a job, out of all its events."""

from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable

from .._base.models import MessageBatchIndividualResponse
from .._jobs.events import JobEvent, ResultReceived
from ._choose import choose


def _response(event: JobEvent) -> MessageBatchIndividualResponse | None:
    return event.response if isinstance(event, ResultReceived) else None


def results() -> Callable[[Observable[JobEvent]], Observable[MessageBatchIndividualResponse]]:
    """Keep the results of a job: every result line of every batch, as it arrives.

    Marble diagram::

        job events:  ──S──B──P──B'──P──r1──r2──S──B'──P──r3──|
        results():   ──────────────────r1──r2─────────────r3──|

    ``S``, ``B``, ``B'``, ``P``: submissions, snapshots and progress (dropped); ``r``:
    :class:`~rxbatches.ResultReceived` events, emitted as their ``response``.

    Returns:
        An operator from :data:`~rxbatches.JobEvent` to
        :class:`~rxbatches.MessageBatchIndividualResponse`; completion and errors pass
        through.

    Example:
        >>> batches.run(requests).pipe(rbo.results(), rbo.texts()).subscribe(print)
    """
    return choose(_response)
