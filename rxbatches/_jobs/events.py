"""The events of a job (:meth:`BatchService.run <rxbatches.BatchService.run>`), one class per kind.

A job emits, for each of its batches: :class:`BatchSubmitted` once it is created, a
:class:`BatchSnapshot` per poll until it has ended, then a :class:`ResultReceived` per
result line; and a :class:`JobProgressed` after every submission and snapshot, with the
progress of the whole job. ``rxbatches.operators`` picks one kind out of the stream
(``results()``, ``batch_snapshots()``, ``job_progress()``).

This module imports only the wire models, so the operators can import it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from .._base.models import MessageBatch, MessageBatchIndividualResponse

if TYPE_CHECKING:
    from .progress import JobProgress

__all__ = ["BatchSnapshot", "BatchSubmitted", "JobEvent", "JobProgressed", "ResultReceived"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchSubmitted:
    """A batch of the job was created."""

    batch: MessageBatch
    """The batch as the create answered it (``in_progress``)."""
    batch_index: int
    """Its position in the job, from 0 (batches are created in this order)."""
    first_request: int
    """The job index of its first request: it holds ``first_request`` to
    ``first_request + requests - 1``."""
    requests: int
    """How many requests it holds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchSnapshot:
    """A poll of one batch of the job; the last one of each batch has ended."""

    batch: MessageBatch
    """The snapshot."""
    batch_index: int
    """The batch's position in the job, from 0."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobProgressed:
    """The progress of the whole job changed (a batch was submitted or polled)."""

    progress: JobProgress
    """The sums over the job's batches; ``progress.ended`` once the input is exhausted and
    every batch has ended (results may still be streaming)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultReceived:
    """One result line of one batch of the job."""

    response: MessageBatchIndividualResponse
    """The result, matched to its request by ``response.custom_id``."""
    batch_id: str
    """The batch it came from."""


JobEvent: TypeAlias = BatchSubmitted | BatchSnapshot | JobProgressed | ResultReceived
"""Any event of a job: match on its class, or pick one kind with an operator."""
