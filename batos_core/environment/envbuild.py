"""Build the next environment beside the current one (standard library only; the CLI runs it).

Choice (see docs/upgrade.md): for an interpreter with the same ABI as the
daemon's (same cache tag and platform) the new environment is a **layered
venv**: ``python -m venv --without-pip`` plus one ``.pth`` file that appends
the current environment's site directories to ``sys.path``. It takes well
under a second and no disk; ``--with`` requirements are installed by pip into
the new venv's own site-packages, which comes first on ``sys.path``, so they
shadow the layered versions. pip never uninstalls anything outside the venv it
runs in, so the live environment is never written. For a different ABI
(another Python version) layering would load the wrong compiled extensions:
every current distribution is installed, pinned to its version.

Either way ``torch`` is pinned (a constraint) to the exact version already
installed, so pip never pulls a different (e.g. CUDA) build.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from batos_core.private_files import DIR_MODE, make_private_dir

MANIFEST = "batos-env.json"
LAYERS_PTH = "_batos_layers.pth"
PINNED = ("torch",)  # never let pip choose another build of these
PROBE_TIMEOUT_S = 60.0
PIP_TIMEOUT_S = 1800.0
LOG_TAIL_LINES = 15

Progress = Callable[[str], None]

_PROBE = """
import json, site, sys, sysconfig
from importlib import metadata
packages = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if name and name not in packages:
        packages[name] = dist.version
sys.stdout.write(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "abi": sys.implementation.cache_tag + "-" + sysconfig.get_platform(),
    "prefix": sys.prefix,
    "sys_path": [p for p in sys.path if p],
    "site_packages": site.getsitepackages(),
    "packages": packages,
}) + "\\n")
"""


class BuildError(Exception):
    """The environment could not be built; the message says why (and where the log is)."""


@dataclass(frozen=True)
class Interpreter:
    """What a probe learned about a Python interpreter and its environment."""

    executable: str
    version: str
    abi: str
    prefix: str
    sys_path: list[str]
    site_packages: list[str]
    packages: dict[str, str]

    @property
    def manifest(self) -> dict[str, object]:
        """The environment's batos manifest (``{}`` if batos did not build it)."""
        path = Path(self.prefix) / MANIFEST
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def requirements(self) -> list[str]:
        """The ``--with`` requirements this environment was built with, cumulatively."""
        found = self.manifest.get("requirements", [])
        return [str(r) for r in found] if isinstance(found, list) else []


@dataclass(frozen=True)
class BuiltEnv:
    """A new environment, ready for verification."""

    path: Path
    python: str
    requirements: list[str]
    layered: bool
    log_path: Path
    installed: dict[str, str] = field(default_factory=dict)  # distributions that differ from the base


def probe(python: str, timeout: float = PROBE_TIMEOUT_S) -> Interpreter:
    """Run `python` to learn its version, ABI, ``sys.path`` and distributions.

    Raises BuildError if it cannot be run, fails or prints something else.
    """
    try:
        done = subprocess.run(
            [python, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"cannot run {python}: {exc}") from None
    if done.returncode != 0:
        raise BuildError(f"{python} failed: {_last_line(done.stderr)}")
    try:
        data = json.loads(done.stdout.strip().splitlines()[-1])
        return Interpreter(**data)
    except (ValueError, IndexError, TypeError) as exc:
        raise BuildError(f"{python} did not answer the probe: {exc}") from None


def build_environment(
    base: Interpreter,
    root: Path,
    *,
    python: str | None = None,
    requirements: Sequence[str] = (),
    progress: Progress | None = None,
) -> BuiltEnv:
    """Create the next environment under `root`: `base` plus `requirements`,
    on `python` (default: the base interpreter).

    The directory is kept whatever happens (for inspection). Raises BuildError
    naming the step that failed and the log file.
    """
    say = progress or (lambda _: None)
    target = probe(python) if python else base
    path = _new_dir(root)
    log_path = path / "build.log"
    layered = target.abi == base.abi
    say(f"creating {'a layered' if layered else 'a full'} venv in {path} ({target.executable})")
    _run([target.executable, "-m", "venv", *(["--without-pip"] if layered else []), str(path)], log_path)
    new_python = str(path / "bin" / "python")
    fresh = probe(new_python)
    if layered:
        _write_layers(fresh, base)
    else:
        say(f"installing {len(base.packages)} distributions for Python {target.version}")
        pinned = [f"{name}=={version}" for name, version in sorted(base.packages.items())]
        _pip_install(new_python, path, pinned, base, log_path)
    wanted = [*base.requirements, *requirements]
    if requirements:
        say("installing " + " ".join(requirements))
        _pip_install(new_python, path, list(requirements), base, log_path)
    built = probe(new_python)
    installed = {n: v for n, v in built.packages.items() if base.packages.get(n) != v}
    manifest = {
        "python": new_python,
        "base": base.executable,
        "base_prefix": base.prefix,
        "requirements": wanted,
        "layered": layered,
        "created": time.time(),
        "installed": installed,
    }
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return BuiltEnv(path, new_python, wanted, layered, log_path, installed)


def _new_dir(root: Path) -> Path:
    # Private like the rest of the data dir: an environment's code runs as the daemon.
    make_private_dir(root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = root / f"{stamp}-{n}"
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
        return path
    raise BuildError(f"no free environment name under {root}")


def _write_layers(fresh: Interpreter, base: Interpreter) -> None:
    """Append the base environment's own path entries (not the stdlib, which the new
    venv has already) after the new venv's site-packages."""
    own = set(fresh.sys_path)
    layers = [p for p in base.sys_path if p not in own and os.path.isdir(p)]
    site_dir = Path(fresh.site_packages[0])
    (site_dir / LAYERS_PTH).write_text("".join(p + "\n" for p in layers))


def _pip_install(python: str, path: Path, requirements: list[str], base: Interpreter, log: Path) -> None:
    constraints = path / "constraints.txt"
    pins = [f"{name}=={base.packages[name]}" for name in PINNED if name in base.packages]
    constraints.write_text("".join(pin + "\n" for pin in pins))
    args = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    _run([*args, "-c", str(constraints), *requirements], log, timeout=PIP_TIMEOUT_S)


def _run(args: list[str], log: Path, timeout: float = 300.0) -> None:
    with log.open("a") as fh:
        fh.write("$ " + " ".join(args) + "\n")
        fh.flush()
        try:
            done = subprocess.run(
                args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"{args[0]}: {exc} (log: {log})") from None
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        detail = next((line for line in reversed(tail) if "error" in line.lower()), tail[-1] if tail else "")
        raise BuildError(f"{' '.join(args[1:4])} failed: {detail.strip()} (log: {log})")


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


__all__ = ["BuildError", "BuiltEnv", "Interpreter", "build_environment", "probe"]
