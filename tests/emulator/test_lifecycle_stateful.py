"""The emulator's batch lifecycle against a simple model, driven by a hypothesis state machine.

The emulator runs on a ManualClock with one concurrency slot and 1.5 s per request, so
request ``i`` of a batch created at ``c`` completes at exactly ``c + 1.5 * (i + 1)``. The
machine only moves the clock by multiples of 7 s (see ``clock_steps``), so the model's
expectation at every observation is exact: no observation lands on a completion.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from rxbatches import Request
from rxbatches.emulator import (
    EmulatorThread,
    Fail,
    ManualClock,
    Succeed,
    default_responder,
)

from ._wire import WireClient, simple_request
from .strategies import clock_steps, outcome_lists

LATENCY = 1.5
"""Emulator seconds per request (one slot: requests run one after the other)."""

START = datetime(2025, 1, 1, tzinfo=UTC)
"""A whole-second start keeps every expected timestamp exact in binary floating point."""


def _responder(request: Request) -> Succeed | Fail:
    if request.custom_id.startswith("fail"):
        return Fail("invalid_request_error", "failed on purpose")
    return default_responder(request)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(
        clock=ManualClock(START),
        request_latency=LATENCY,
        concurrency=1,
        responder=_responder,
    ) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def wire(emu: EmulatorThread) -> Iterator[WireClient]:
    with WireClient(emu.base_url) as client:
        yield client


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass
class ModelBatch:
    """What the model knows of one batch: its requests, when it was created and canceled."""

    id: str
    fails: list[bool]
    created: float
    cancel_at: float | None = None
    final: dict[str, Any] | None = field(default=None)
    """The batch as first seen ended: an ended batch never changes afterwards."""

    @property
    def size(self) -> int:
        return len(self.fails)

    def done_by(self, t: float) -> int:
        """How many requests complete by time ``t`` when nothing interrupts them."""
        return min(self.size, math.floor((t - self.created) / LATENCY))

    def has_ended(self, now: float) -> bool:
        if self.cancel_at is not None:
            return now > self.cancel_at or self.done_by(self.cancel_at) == self.size
        return self.done_by(now) == self.size


class LifecycleMachine(RuleBasedStateMachine):
    """create / cancel / delete / retrieve / list / results / advance against the model."""

    batches = Bundle("batches")

    emulator: EmulatorThread
    client: WireClient

    def __init__(self) -> None:
        super().__init__()
        self.emulator.reset()  # one emulator serves every example: start each one empty
        self.emu = self.emulator
        self.wire = self.client
        clock = self.emu.clock
        assert isinstance(clock, ManualClock)
        self.clock: ManualClock = clock
        self.model: dict[str, ModelBatch] = {}  # insertion order = creation order
        self.deleted: set[str] = set()

    # -- helpers ----------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now().timestamp()

    def check_batch(self, body: dict[str, Any], batch: ModelBatch) -> None:
        """Compare one MessageBatch body with what the model expects now."""
        now = self.now()
        assert body["id"] == batch.id
        assert body["type"] == "message_batch"
        assert _ts(body["created_at"]) == _at(batch.created)
        assert _ts(body["expires_at"]) == _at(batch.created) + timedelta(hours=24)
        expected_cancel = None if batch.cancel_at is None else _at(batch.cancel_at)
        assert _ts(body["cancel_initiated_at"]) == expected_cancel
        counts = body["request_counts"]
        assert all(isinstance(v, int) and v >= 0 for v in counts.values())

        if not batch.has_ended(now):
            expected_status = "in_progress" if batch.cancel_at is None else "canceling"
            assert body["processing_status"] == expected_status
            assert body["ended_at"] is None
            assert body["results_url"] is None
            # The outcome tallies stay zero until the whole batch has ended.
            assert counts["succeeded"] == counts["errored"] == 0
            assert counts["canceled"] == counts["expired"] == 0
            if batch.cancel_at is None:
                assert counts["processing"] == batch.size - batch.done_by(now)
            else:
                assert 0 <= counts["processing"] <= batch.size - batch.done_by(batch.cancel_at)
            return

        assert body["processing_status"] == "ended"
        assert body["results_url"] == f"{self.emu.base_url}/v1/messages/batches/{batch.id}/results"
        assert counts["processing"] == 0
        assert counts["expired"] == 0  # every request here finishes within 7.5 s
        ended_at = _ts(body["ended_at"])
        if batch.cancel_at is None or batch.done_by(batch.cancel_at) == batch.size:
            # Ran to completion: ended when its last request completed, all tallied.
            assert ended_at == _at(batch.created + LATENCY * batch.size)
            assert counts["succeeded"] == batch.fails.count(False)
            assert counts["errored"] == batch.fails.count(True)
            assert counts["canceled"] == 0
        else:
            # Canceled: what had completed keeps its outcome, the request in flight may
            # finish, the rest are canceled, all within one request latency.
            assert ended_at is not None
            assert _at(batch.cancel_at) <= ended_at <= _at(batch.cancel_at + LATENCY)
            done = batch.done_by(batch.cancel_at)
            finished = counts["succeeded"] + counts["errored"]
            assert finished in (done, done + 1)
            assert counts["succeeded"] == batch.fails[:finished].count(False)
            assert counts["errored"] == batch.fails[:finished].count(True)
            assert counts["canceled"] == batch.size - finished
        if batch.final is None:
            batch.final = body
        else:
            assert {k: v for k, v in body.items() if k != "archived_at"} == {
                k: v for k, v in batch.final.items() if k != "archived_at"
            }, "an ended batch changed"

    def expect_error(self, response: Any, status: int, error_type: str) -> None:
        assert response.status == status, response.body
        body = response.json()
        assert body["type"] == "error"
        assert body["error"]["type"] == error_type
        assert body["request_id"] == response.headers["request-id"]

    # -- rules -------------------------------------------------------------------------

    @rule(target=batches, fails=outcome_lists)
    def create(self, fails: list[bool]) -> str:
        requests = [
            simple_request(f"{'fail' if fail else 'ok'}-{i}", f"prompt {i}")
            for i, fail in enumerate(fails)
        ]
        response = self.wire.create(requests)
        assert response.status == 200, response.body
        body = response.json()
        batch = ModelBatch(body["id"], fails, created=self.now())
        assert batch.id not in self.model
        assert batch.id not in self.deleted
        self.model[batch.id] = batch
        self.check_batch(body, batch)
        assert body["processing_status"] == "in_progress"
        assert body["request_counts"]["processing"] == len(fails)
        return batch.id

    @rule(seconds=clock_steps)
    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule(batch_id=batches)
    def retrieve(self, batch_id: str) -> None:
        response = self.wire.retrieve(batch_id)
        if batch_id in self.deleted:
            self.expect_error(response, 404, "not_found_error")
            return
        assert response.status == 200, response.body
        self.check_batch(response.json(), self.model[batch_id])

    @rule(suffix=st.from_regex(r"[a-zA-Z0-9]{1,24}", fullmatch=True))
    def retrieve_unknown(self, suffix: str) -> None:
        batch_id = f"msgbatch_unknown{suffix}"
        if batch_id in self.model:
            return
        self.expect_error(self.wire.retrieve(batch_id), 404, "not_found_error")

    @rule(batch_id=batches)
    def cancel(self, batch_id: str) -> None:
        response = self.wire.cancel(batch_id)
        if batch_id in self.deleted:
            self.expect_error(response, 404, "not_found_error")
            return
        batch = self.model[batch_id]
        now = self.now()
        if batch.has_ended(now) or batch.cancel_at is not None:
            # Nothing left to cancel: either refused, or answered with the batch unchanged.
            if response.status != 200:
                self.expect_error(response, 400, "invalid_request_error")
                return
            self.check_batch(response.json(), batch)
            return
        assert response.status == 200, response.body
        batch.cancel_at = now
        body = response.json()
        self.check_batch(body, batch)
        assert body["processing_status"] == "canceling"

    @rule(batch_id=batches)
    def delete(self, batch_id: str) -> None:
        response = self.wire.delete(batch_id)
        if batch_id in self.deleted:
            self.expect_error(response, 404, "not_found_error")
            return
        batch = self.model[batch_id]
        if not batch.has_ended(self.now()):
            self.expect_error(response, 400, "invalid_request_error")
            return
        assert response.status == 200, response.body
        assert response.json() == {"id": batch_id, "type": "message_batch_deleted"}
        del self.model[batch_id]
        self.deleted.add(batch_id)

    @rule(batch_id=batches)
    def results(self, batch_id: str) -> None:
        response = self.wire.results(batch_id)
        if batch_id in self.deleted:
            self.expect_error(response, 404, "not_found_error")
            return
        batch = self.model[batch_id]
        if not batch.has_ended(self.now()):
            self.expect_error(response, 400, "invalid_request_error")
            return
        assert response.status == 200, response.body
        lines = [line for line in response.body.splitlines() if line.strip()]
        by_id: dict[str, str] = {}
        for line in lines:
            item = json.loads(line)
            by_id[item["custom_id"]] = item["result"]["type"]
        assert len(by_id) == len(lines) == batch.size
        retrieved = self.wire.retrieve(batch_id).json()
        self.check_batch(retrieved, batch)
        tallies = {kind: list(by_id.values()).count(kind) for kind in set(by_id.values())}
        counts = {k: v for k, v in retrieved["request_counts"].items() if v and k != "processing"}
        assert tallies == counts
        for i, fail in enumerate(batch.fails):
            kind = by_id[f"{'fail' if fail else 'ok'}-{i}"]
            assert kind in (("errored", "canceled") if fail else ("succeeded", "canceled"))

    @rule(limit=st.integers(min_value=1, max_value=7))
    def list_all(self, limit: int) -> None:
        seen: list[str] = []
        after: dict[str, str | int] = {}
        while True:
            response = self.wire.list(limit=limit, **after)
            assert response.status == 200, response.body
            page = response.json()
            for body in page["data"]:
                self.check_batch(body, self.model[body["id"]])
                seen.append(body["id"])
            if not page["has_more"]:
                break
            after = {"after_id": page["last_id"]}
        assert seen == list(reversed(self.model))

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def store_holds_exactly_the_live_batches_newest_first(self) -> None:
        assert list(self.emu.batch_ids()) == list(reversed(self.model))


def test_lifecycle_follows_the_model(emu: EmulatorThread, wire: WireClient) -> None:
    class BoundLifecycleMachine(LifecycleMachine):
        emulator = emu
        client = wire

    # Half the profile's examples of 20 steps: each step is a real HTTP round trip.
    machine_settings = settings(
        stateful_step_count=20, max_examples=max(10, settings().max_examples // 2)
    )
    run_state_machine_as_test(BoundLifecycleMachine, settings=machine_settings)
