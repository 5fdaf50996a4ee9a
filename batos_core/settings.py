"""User settings: ``batos.toml`` plus ``BATOS_*`` environment variables.

Precedence (highest first): command-line options, ``BATOS_*`` variables, the
first ``batos.toml`` found (``$BATOS_CONFIG``, ``./batos.toml``, the user config
dir), built-in defaults. Standard library only: the CLI imports this.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_BACKEND = "auto"
"""The JIT backend when none is named (on the command line, in ``BATOS_BACKEND``,
in batos.toml or in code): the machine's choice of engine, llama.cpp for a GGUF
on a CPU, else transformers (`batos_core.jit.backends`). The one default: the
settings, the daemon's config and command line and the backends' config use it."""

NO_BACKEND = "none"
"""The backend name that runs no JIT: a message nobody understands is an error."""


@dataclass
class Settings:
    """Settings shared by the CLI and the daemon."""

    image: str = ""
    backend: str = DEFAULT_BACKEND
    model: str = ""
    review: bool = False
    workers: int = 4
    tcp: str = ""
    timeout: float = 30.0  # seconds of daemon silence before a client retries
    # Seconds the daemon's event loop may stall before its supervisor restarts it; 0: no supervisor.
    wedge_timeout: float = 10.0
    autotelic: bool = False
    # On a shared world (zeo://, postgresql://): which of this machine's daemons to talk to or start.
    instance: str = ""


_ENV = {f.name: "BATOS_" + f.name.upper() for f in fields(Settings)}


def config_paths() -> list[Path]:
    """Where batos.toml is looked for, in order."""
    paths = []
    if os.environ.get("BATOS_CONFIG"):
        paths.append(Path(os.environ["BATOS_CONFIG"]).expanduser())
    paths.append(Path.cwd() / "batos.toml")
    from platformdirs import user_config_dir

    paths.append(Path(user_config_dir("batos")) / "batos.toml")
    return paths


def load_settings() -> Settings:
    """Defaults, overlaid by the first batos.toml found, overlaid by BATOS_* variables.

    A malformed batos.toml raises ValueError naming the file and the problem.
    """
    settings = Settings()
    for path in config_paths():
        if path.is_file():
            import tomllib  # only when a file exists: ~8 ms of every CLI start otherwise

            try:
                data = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{path}: {exc}") from None
            _apply(settings, data.get("batos", data), str(path))
            break
    env = {name: os.environ[var] for name, var in _ENV.items() if var in os.environ}
    _apply(settings, env, "environment")
    return settings


def _apply(settings: Settings, values: dict[str, Any], source: str) -> None:
    types = {f.name: f.type for f in fields(Settings)}
    for name, raw in values.items():
        if name not in types:
            continue
        default = getattr(Settings(), name)
        try:
            if isinstance(default, bool):
                value: Any = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                value = int(raw)
            elif isinstance(default, float):
                value = float(raw)
            else:
                value = str(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{source}: {name} = {raw!r} is not a valid {type(default).__name__}") from None
        setattr(settings, name, value)
