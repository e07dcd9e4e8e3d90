"""tox inline plugin: let tox find every Python that pyenv installed.

tox does not see pyenv's shims, so each installed version's own ``bin`` folder
is put on PATH (newest patch release first) before tox looks for interpreters.
Machines without pyenv are left untouched: there, the usual PATH lookup applies.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def _pyenv_bins() -> list[str]:
    root = os.environ.get("PYENV_ROOT")
    if not root:
        try:
            root = subprocess.run(
                ["pyenv", "root"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            root = str(Path.home() / ".pyenv")
    versions = Path(root) / "versions"
    if not versions.is_dir():
        return []

    def key(p: Path) -> tuple[int, ...]:
        return tuple(int(x) if x.isdigit() else -1 for x in p.name.split("."))

    found = sorted(
        (p for p in versions.iterdir() if (p / "bin" / "python").exists()), key=key, reverse=True
    )
    return [str(p / "bin") for p in found]


_extra = [b for b in _pyenv_bins() if b not in os.environ.get("PATH", "").split(os.pathsep)]
if _extra:
    os.environ["PATH"] = os.pathsep.join([*_extra, os.environ.get("PATH", "")])
