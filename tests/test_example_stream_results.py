"""examples/stream_results_to_jsonl.py names only a file that is still there when it ends."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))  # it imports its helper as `_common`
    monkeypatch.delenv("RXBATCHES_USE_REAL_API", raising=False)
    spec = importlib.util.spec_from_file_location(
        "example_stream_results", EXAMPLES / "stream_results_to_jsonl.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "example_stream_results", module)
    spec.loader.exec_module(module)
    return module


def test_without_output_it_does_not_name_the_temporary_file(
    example: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    status = example.main(["-n", "12"])

    out = capsys.readouterr().out
    assert status == 0
    assert "wrote 12 lines to a temporary file (pass -o FILE to keep it)" in out
    # Any path it does name must still exist.
    for named in re.findall(r"(/\S+\.jsonl)", out):
        assert Path(named).exists(), named


def test_with_output_it_names_the_file_it_kept(
    example: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kept.jsonl"

    status = example.main(["-n", "12", "-o", str(path)])

    out = capsys.readouterr().out
    assert status == 0
    assert f"wrote 12 lines to {path}" in out
    assert len(path.read_text(encoding="utf-8").splitlines()) == 12
