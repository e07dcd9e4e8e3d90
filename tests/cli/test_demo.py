"""The demo, in-process and small: its JSON summary agrees with the results file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rxbatches import Request
from rxbatches.__main__ import main
from rxbatches._cli._demo import demo_requests, demo_responder
from rxbatches.emulator import Fail


def test_demo_json_summary_matches_the_results_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The demo needs no key and ignores the environment's API settings.
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    path = tmp_path / "out.jsonl"

    status = main(["demo", "--requests", "300", "-o", str(path), "--json", "--quiet"])

    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert status == 0
    assert captured.err == ""
    assert summary["results"] == len(lines) == 300
    assert summary["by_type"]["succeeded"] == sum(
        1 for line in lines if line["result"]["type"] == "succeeded"
    )
    assert summary["by_type"]["errored"] == sum(summary["errors"].values()) > 0
    assert summary["batch"]["request_counts"]["errored"] == summary["by_type"]["errored"]
    assert summary["input_tokens"] == sum(
        line["result"]["message"]["usage"]["input_tokens"]
        for line in lines
        if line["result"]["type"] == "succeeded"
    )
    assert summary["output"] == str(path)


def test_demo_failures_are_deterministic_and_about_five_percent() -> None:
    requests = [Request.model_validate(r) for r in demo_requests(3000)]

    first = [isinstance(demo_responder(r), Fail) for r in requests]
    again = [isinstance(demo_responder(r), Fail) for r in requests]

    assert first == again
    assert 0.03 < sum(first) / len(first) < 0.07


def test_demo_rejects_a_request_count_outside_the_api_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["demo", "--requests", "0", "-o", str(tmp_path / "x.jsonl")])

    assert status == 1
    assert capsys.readouterr().err == "error: --requests: must be between 1 and 100,000, not 0\n"
