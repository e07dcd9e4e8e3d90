"""Reusable Rx operators over batch results and batch snapshots.

Each function returns an operator for ``Observable.pipe``: over the results of a batch
(``Observable[MessageBatchIndividualResponse]``) :func:`succeeded`, :func:`texts`,
:func:`split_by_type`, :func:`join_requests` and :func:`resubmit_failed`; over its
snapshots (``Observable[MessageBatch]``) :func:`progress`, and over the progress of
several batches :func:`combine_progress`; over the events of a job
(:meth:`BatchService.run <rxbatches.BatchService.run>`) :func:`results`,
:func:`batch_snapshots` and :func:`job_progress`; and :func:`observe_on`, reactivex's
``observe_on`` with a bound on the items it holds, which pauses rxbatches' sources
upstream of it. Every one is cold: nothing runs until
a subscription, and each subscription runs on its own.

Example:
    >>> import rxbatches.operators as rbo
    >>> results.pipe(
    ...     rbo.resubmit_failed(requests, run_batch, rounds=2),
    ...     rbo.join_requests(requests),
    ... ).subscribe(lambda j: print(j.custom_id, "missing" if j.missing else "ok"))
    >>> results.pipe(rbo.texts()).subscribe(lambda t: print(t.custom_id, t.text))
    >>> snapshots.pipe(rbo.progress()).subscribe(lambda p: print(f"{p.fraction:.0%}"))
    >>> batches.run(requests).pipe(rbo.results(), rbo.texts()).subscribe(print)
"""

from .._jobs.progress import BatchProgress, JobProgress, Progress
from ._batch_snapshots import batch_snapshots
from ._combine_progress import combine_progress
from ._job_progress import job_progress
from ._join import JoinedResult, join_requests
from ._observe_on import observe_on
from ._progress import progress
from ._resubmit import RetryOn, resubmit_failed
from ._results import results
from ._split import ConnectableResultSplit, ResultSplit, split_by_type
from ._succeeded import SucceededMessage, succeeded
from ._texts import MessageText, texts

__all__ = [
    "BatchProgress",
    "ConnectableResultSplit",
    "JobProgress",
    "JoinedResult",
    "MessageText",
    "Progress",
    "ResultSplit",
    "RetryOn",
    "SucceededMessage",
    "batch_snapshots",
    "combine_progress",
    "job_progress",
    "join_requests",
    "observe_on",
    "progress",
    "resubmit_failed",
    "results",
    "split_by_type",
    "succeeded",
    "texts",
]
