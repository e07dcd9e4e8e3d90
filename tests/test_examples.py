"""The examples import cleanly on every supported Python and dependency floor.

``tox -e examples`` runs them end to end (on one Python); this only catches a broken
import or a missing ``main`` everywhere the suite runs, in milliseconds.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def test_every_example_is_found() -> None:
    names = {p.stem for p in SCRIPTS}
    assert {"lifecycle_with_operators", "stream_results_to_jsonl", "large_job"} <= names
    assert {"retry_and_errors", "reactive_ui", "run_all", "durable_job"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_example_imports_and_has_a_documented_main(
    script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scripts import their helper as `_common`, from their own folder.
    monkeypatch.syspath_prepend(str(EXAMPLES))
    name = f"example_{script.stem}"
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)

    assert callable(module.main)
    assert inspect.signature(module.main).return_annotation in {"int", int}
    assert module.__doc__ is not None
    assert "Run it" in module.__doc__
