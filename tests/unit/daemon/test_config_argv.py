"""The daemon's command line has one home: `DaemonConfig.to_argv`, read back by `from_argv`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from batos_cli.connect import daemon_args
from batos_core.daemon.server import standby_args
from batos_core.daemon_config import DaemonConfig

CONFIGS = [
    DaemonConfig(image="/tmp/w/image.fs", backend="none"),
    DaemonConfig(
        image="zeo://127.0.0.1:8100",
        runtime_dir=Path("/tmp/w/run"),
        tcp="127.0.0.1:5555",
        instance="2",
        workers=7,
        max_frame_bytes=1 << 22,
        backend="llamacpp",
        model="qwen2.5-coder-0.5b-instruct",
        review=True,
        candidates=3,
        autotelic=True,
        log_file="/tmp/w/daemon.log",
    ),
]


def carried(config: DaemonConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in DaemonConfig.ARGV_FIELDS}


@pytest.mark.parametrize("config", CONFIGS)
def test_to_argv_round_trips_every_carried_setting(
    config: DaemonConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATOS_BACKEND", "openai")  # written explicitly: the environment cannot change it
    assert carried(DaemonConfig.from_argv(config.to_argv())) == carried(config)


def test_every_field_is_either_carried_or_named_as_not() -> None:
    not_carried = {"max_attempts", "reply_table_size", "wedge_timeout"}
    fields = {f.name for f in dataclasses.fields(DaemonConfig)}
    assert fields == set(DaemonConfig.ARGV_FIELDS) | not_carried


def test_a_successor_keeps_the_autotelic_loop_and_every_other_setting(tmp_path: Path) -> None:
    config = dataclasses.replace(CONFIGS[1], runtime_dir=tmp_path / "run")
    argv = standby_args(config)
    assert argv[:3] == ["-m", "batos_core.daemon", "--standby"]
    successor = DaemonConfig.from_argv(argv[3:])
    assert successor.autotelic is True  # standby_args used to drop --autotelic
    assert carried(successor) == carried(config)


def test_the_cli_starts_a_daemon_with_the_same_argv() -> None:
    assert daemon_args(CONFIGS[1]) == ["-m", "batos_core.daemon", *CONFIGS[1].to_argv()]
