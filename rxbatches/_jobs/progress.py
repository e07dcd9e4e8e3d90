"""How far some requests have come: the progress of one batch, and of a job of several.

Value types only, shared by the job layer (which reports a job's progress in its
events) and :mod:`rxbatches.operators` (whose ``progress()`` and ``combine_progress()``
compute them from snapshots).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._base.models import MessageBatch

__all__ = ["BatchProgress", "JobProgress", "Progress"]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class JobProgress(Progress):
    """The :class:`Progress` of a job: the sums over its batches.

    ``processing`` also counts :attr:`unsubmitted` requests (those of the job in no batch
    seen yet), so :attr:`~Progress.done` and :attr:`~Progress.fraction` do not jump back
    when a new batch appears.
    """

    batches: int
    """The number of batches seen so far."""
    ended_batches: int
    """How many of them have ended."""
    unsubmitted: int
    """Requests of the job in no batch seen yet (known only if the job's total was given)."""
