"""Per-invocation state shared by the commands: which image, the settings."""

from __future__ import annotations

from batos_cli.connect import Target
from batos_core.settings import load_settings

_target: Target | None = None


def configure(*, image: str | None, runtime_dir: str | None) -> None:
    global _target
    try:
        settings = load_settings()
    except ValueError as exc:
        from batos_cli.status import CliError, ExitStatus

        raise CliError(str(exc), ExitStatus.BAD_INPUT) from None
    _target = Target(settings=settings, image=image, runtime_dir=runtime_dir)


def target() -> Target:
    if _target is None:
        configure(image=None, runtime_dir=None)
    assert _target is not None
    return _target
