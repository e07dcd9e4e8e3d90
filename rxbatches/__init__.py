"""rxbatches: Anthropic's Message Batches API as cold RxPY Observables.

The public API is exactly what ``__all__`` lists; every other module is private.

The layout: one layer a place, and imports only go down this list (``tests/test_layout.py``
checks every import):

- ``_cli``, ``emulator``, ``dashboard``, ``__main__``: the command line, the offline
  emulator and the live dashboard in the browser.
- ``_client``, and this package: ``Client``, ``Messages`` and ``BatchService`` (the
  single operations, plus ``run``, which hands a whole job to ``_jobs``).
- ``operators``: reusable Rx operators over results, snapshots, progress and job events.
- ``_jobs``: beyond one batch: reading and splitting input (``input``), the job's
  lifecycle, events and progress, and durable jobs (``store``, ``durable``, ``prices``).
- ``_service``: each Message Batches operation, written once: coroutines
  (``operations``, ``results``, with the 404 ``grace``), as Observables of raw responses
  (``observables``), typed (``batches``: ``BatchOperations``) and raw (``raw``).
- ``_transport``: HTTP, the only user of aiohttp's client: one session per event loop,
  retries (``retry``), raw responses and status errors (``response``).
- ``_rx``: the reactive runtime: one ``runtime`` per event loop and the one close, the
  ``bridge`` from coroutines to cold Observables, ``backpressure``, and the blocking and
  ``async for`` handoffs.
- ``_base``: what every layer builds on: wire ``models``, ``errors``, ``options``, create
  ``validation``, JSONL decoding, request bodies, the clock and the worker-thread helper.
"""

from ._base.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    CreateOutcomeUnknownError,
    CreateValidationError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ResultLineError,
    RxBatchesError,
    UnprocessableEntityError,
)
from ._base.models import (
    BatchCreateParams,
    CacheMissReason,
    ContentBlock,
    DeletedMessageBatch,
    Diagnostics,
    ErrorObject,
    ErrorResponse,
    Message,
    MessageBatch,
    MessageBatchCanceledResult,
    MessageBatchErroredResult,
    MessageBatchExpiredResult,
    MessageBatchIndividualResponse,
    MessageBatchPage,
    MessageBatchRequestCounts,
    MessageBatchResult,
    MessageBatchSucceededResult,
    MessageBatchUnknownResult,
    MessageCreateParams,
    MessageParam,
    ProcessingStatus,
    RedactedThinkingBlock,
    Request,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    UnknownContentBlock,
    Usage,
)
from ._base.options import NO_TIMEOUT, ClientOptions, RequestOptions
from ._base.validation import MAX_BODY_BYTES, MAX_REQUESTS, validate_requests
from ._client import BatchService, Client, Messages
from ._jobs.events import BatchSnapshot, BatchSubmitted, JobEvent, JobProgressed, ResultReceived
from ._jobs.input import read_requests_jsonl
from ._jobs.store import JobStore, JobStoreError
from ._rx.async_iter import aiterate
from ._rx.blocking import iterate, to_list
from ._service.raw import BatchServiceWithRawResponse
from ._transport.response import RawResponse
from .operators import BatchProgress, JobProgress

__version__ = "0.1.0.dev0"

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_REQUESTS",
    "NO_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchCreateParams",
    "BatchProgress",
    "BatchService",
    "BatchServiceWithRawResponse",
    "BatchSnapshot",
    "BatchSubmitted",
    "CacheMissReason",
    "Client",
    "ClientClosedError",
    "ClientOptions",
    "ConflictError",
    "ContentBlock",
    "CreateOutcomeUnknownError",
    "CreateValidationError",
    "DeletedMessageBatch",
    "Diagnostics",
    "ErrorObject",
    "ErrorResponse",
    "InternalServerError",
    "JobEvent",
    "JobProgress",
    "JobProgressed",
    "JobStore",
    "JobStoreError",
    "Message",
    "MessageBatch",
    "MessageBatchCanceledResult",
    "MessageBatchErroredResult",
    "MessageBatchExpiredResult",
    "MessageBatchIndividualResponse",
    "MessageBatchPage",
    "MessageBatchRequestCounts",
    "MessageBatchResult",
    "MessageBatchSucceededResult",
    "MessageBatchUnknownResult",
    "MessageCreateParams",
    "MessageParam",
    "Messages",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "ProcessingStatus",
    "RateLimitError",
    "RawResponse",
    "RedactedThinkingBlock",
    "Request",
    "RequestOptions",
    "RequestTooLargeError",
    "ResultLineError",
    "ResultReceived",
    "RxBatchesError",
    "TextBlock",
    "ThinkingBlock",
    "ToolUseBlock",
    "UnknownContentBlock",
    "UnprocessableEntityError",
    "Usage",
    "aiterate",
    "iterate",
    "read_requests_jsonl",
    "to_list",
    "validate_requests",
]
