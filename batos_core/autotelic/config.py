"""Knobs of the autotelic loop: CEM weights, stagnation thresholds, budgets.

They live beside the ``autotelic = true|false`` switch of ``batos.toml`` as
flat ``autotelic_*`` keys (``batos.settings`` ignores keys it does not know),
and in ``BATOS_AUTOTELIC_*`` environment variables, which win. Standard
library only.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: CEM components, in the order they are shown.
COMPONENTS = ("structural", "novelty", "diversity", "competence")


@dataclass
class AutotelicConfig:
    """Every tunable of the heartbeat, the metric and the budgets (defaults: docs/autotelic.md)."""

    idle_s: float = 300.0  # no user request for this long = idle
    tick_s: float = 1.0  # how often the heartbeat wakes (real seconds)
    sample_s: float = 60.0  # how often an enabled heartbeat samples the CEM for its trend
    threshold: float = 0.5  # CEM below this = stagnation
    window_s: float = 1800.0  # trend window for "falling"
    fall_delta: float = 0.05  # a drop of more than this over the window = stagnation
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0.25))
    recent_messages: int = 200  # messages the diversity and competence components look at
    recent_installs: int = 20  # installs the novelty component looks at
    max_acts_per_hour: int = 4
    max_tokens_per_day: int = 20_000
    proposal_max_tokens: int = 200
    trend_size: int = 120  # CEM samples kept in memory for `batos cem`

    def validate(self) -> AutotelicConfig:
        """Return self; raises ValueError naming the first bad value."""
        for name in COMPONENTS:
            if self.weights.get(name, 0.0) < 0:
                raise ValueError(f"autotelic weight {name} must be >= 0")
        unknown = set(self.weights) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown autotelic weight(s): {', '.join(sorted(unknown))}")
        if sum(self.weights.get(n, 0.0) for n in COMPONENTS) <= 0:
            raise ValueError("the autotelic weights must not all be zero")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("autotelic_threshold must be in [0, 1]")
        for name in ("idle_s", "tick_s", "sample_s", "window_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"autotelic_{name} must be > 0")
        for name in ("recent_messages", "recent_installs", "trend_size", "proposal_max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"autotelic_{name} must be >= 1")
        if self.max_acts_per_hour < 0 or self.max_tokens_per_day < 0:
            raise ValueError("autotelic budgets must be >= 0")
        return self


_PREFIX = "autotelic_"


def load_autotelic_config(paths: list[Path] | None = None) -> AutotelicConfig:
    """Defaults, overlaid by ``autotelic_*`` keys of the first batos.toml found, then by env.

    ``paths`` defaults to ``batos_core.settings.config_paths()``. Raises
    ValueError naming the file (or variable) and key for a malformed value.
    """
    config = AutotelicConfig()
    if paths is None:
        from batos_core.settings import config_paths

        paths = config_paths()
    for path in paths:
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{path}: {exc}") from None
            table = data.get("batos", data)
            apply_values(
                config, {k[len(_PREFIX) :]: v for k, v in table.items() if k.startswith(_PREFIX)}, str(path)
            )
            break
    env = {
        key[len("BATOS_AUTOTELIC_") :].lower(): value
        for key, value in os.environ.items()
        if key.startswith("BATOS_AUTOTELIC_")
    }
    apply_values(config, env, "environment")
    return config.validate()


def apply_values(config: AutotelicConfig, values: dict[str, Any], source: str) -> None:
    """Set fields of `config` from `values` (strings are parsed); unknown keys are ignored.

    ``weights`` takes a table (``{structural = 0.4, ...}``) or, from the
    environment, ``structural=0.4,novelty=0.2``. Raises ValueError naming
    `source` and the key for a value of the wrong type.
    """
    known = {f.name for f in fields(AutotelicConfig)}
    for name, raw in values.items():
        if name not in known:
            continue
        try:
            if name == "weights":
                config.weights = {**config.weights, **_weights(raw)}
                continue
            default = getattr(AutotelicConfig(), name)
            value: Any = int(raw) if isinstance(default, int) else float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{source}: autotelic_{name} = {raw!r} is not valid") from None
        setattr(config, name, value)


def _weights(raw: Any) -> dict[str, float]:
    if isinstance(raw, dict):
        return {str(k): float(v) for k, v in raw.items()}
    pairs = [part.split("=", 1) for part in str(raw).split(",") if part.strip()]
    return {k.strip(): float(v) for k, v in pairs}
