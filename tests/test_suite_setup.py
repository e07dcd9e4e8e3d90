"""The test command itself: CI runs the README's, and every test has a timeout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^# install tox and run the whole test suite.*\n(.+)$", readme, re.MULTILINE)
    assert found is not None, "the README's first screen has no test command"
    return found.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line.strip()
        for line in script.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]

    assert commands[-1] == _readme_test_command()
    assert "tox p" in commands[-1]  # the environments run in parallel


def test_every_test_has_a_timeout_that_interrupts_asyncio_tests_too(
    pytestconfig: pytest.Config,
) -> None:
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert float(pytestconfig.getini("timeout")) == 30
    assert pytestconfig.getini("timeout_method") == "signal"


def test_tox_runs_the_suite_with_resource_warnings_as_errors() -> None:
    tox_ini = (ROOT / "tox.ini").read_text(encoding="utf-8")

    assert "python -W error::ResourceWarning -m pytest" in tox_ini
