"""tox inline plugin: find every Python that pyenv installed, and the system packages.

tox does not see pyenv's shims, so each installed version's own ``bin`` folder
is put on PATH (newest patch release first) before tox looks for interpreters.
Machines without pyenv are left untouched: there, the usual PATH lookup applies.

An environment names the Debian packages it needs in ``system_packages``, as
``PACKAGE:COMMAND`` (e.g. ``xvfb:Xvfb``). When a run selects that environment and a
command is missing, tox installs its package with apt-get if it runs as root, in the
background while the other environments run, and otherwise stops at once, naming the
package and the command that installs it: a fresh machine never finds out minutes later.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tox.plugin import impl
from tox.report import HandledError
from tox.tox_env.errors import Fail

if TYPE_CHECKING:
    from tox.config.sets import EnvConfigSet
    from tox.session.state import State
    from tox.tox_env.api import ToxEnv


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


# tox commands that run environments (the others only read the configuration).
_RUN_COMMANDS = {"legacy", "le", "run", "r", "run-parallel", "p", "exec", "e"}


class _AptInstall:
    """One ``apt-get install`` in a background thread; environments wait on it."""

    def __init__(self, packages: list[str], log: Path) -> None:
        self.packages = packages
        self.log = log
        self.returncode: int | None = None
        self._thread = threading.Thread(target=self._run, name="apt-get install", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w", encoding="utf-8") as out:
            # The package lists of a fresh machine are empty until the first update.
            self.returncode = subprocess.run(
                # Waits for the dpkg lock rather than failing when another apt-get holds it.
                "apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=300 "
                + " ".join(self.packages),
                shell=True,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            ).returncode

    def wait(self) -> int:
        self._thread.join()
        assert self.returncode is not None
        return self.returncode


_installs: dict[str, _AptInstall] = {}
"""The installs started, by package name."""


def _needs(env: str, missing: dict[str, str]) -> str:
    """What to tell someone who must install ``missing`` (package to command) first."""
    listed = ", ".join(f"{p} (for {c})" for p, c in sorted(missing.items()))
    return (
        f"{env} needs the system package {listed}, which is not installed; install it with:"
        f" sudo apt-get install -y {' '.join(sorted(missing))}"
        f" (or run only the other environments: tox -e ...)"
    )


def _missing(entries: list[str]) -> dict[str, str]:
    """The packages (to the command each provides) whose command is not on PATH."""
    missing = {}
    for entry in entries:
        package, _, command = entry.partition(":")
        if shutil.which(command or package) is None:
            missing[package] = command or package
    return missing


def _selected_for_a_run(name: str, state: State) -> bool:
    """Whether this tox invocation runs environment ``name`` (tox defines them all).

    Selections by label (-m) or factor (-f) are not worked out here: for those the check
    happens when the environment starts (``tox_before_run_commands``).
    """
    options = state.conf.options
    if getattr(options, "command", None) not in _RUN_COMMANDS:
        return False
    if getattr(options, "labels", None) or getattr(options, "factors", None):
        return False
    selected = getattr(options, "env", None)
    if selected is None or selected.is_default_list:
        return name in state.conf.core["env_list"]
    return bool(selected.is_all) or name in selected


@impl
def tox_add_env_config(env_conf: EnvConfigSet, state: State) -> None:
    """Add ``system_packages``; for a run, install what is missing or stop at once."""
    env_conf.add_config(
        keys=["system_packages"],
        of_type=list[str],
        default=[],
        desc="Debian packages the environment needs, as PACKAGE:COMMAND (installed when root)",
    )
    if not _selected_for_a_run(env_conf.name, state):
        return
    missing = {p: c for p, c in _missing(env_conf["system_packages"]).items() if p not in _installs}
    if not missing:
        return
    packages = sorted(missing)
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise HandledError(_needs(env_conf.name, missing))
    log = Path(state.conf.core["work_dir"]) / "apt-get.log"
    listed = ", ".join(f"{p} (for {missing[p]})" for p in packages)
    print(f"{env_conf.name}: installing {listed} with apt-get, in the background (log: {log})")
    install = _AptInstall(packages, log)
    _installs.update(dict.fromkeys(packages, install))


@impl
def tox_before_run_commands(tox_env: ToxEnv) -> None:
    """Wait for the packages this environment needs; fail it if they could not be installed."""
    entries: list[str] = tox_env.conf["system_packages"]
    packages = [entry.partition(":")[0] for entry in entries]
    for install in {id(i): i for p in packages if (i := _installs.get(p))}.values():
        if install.wait() != 0:
            log = install.log.read_text(encoding="utf-8", errors="replace").strip()
            raise Fail(f"apt-get install {' '.join(install.packages)} failed:\n{log}")
    still = _missing(entries)
    if still:
        raise Fail(_needs(tox_env.name, still))
