"""The fast path's pre-rendered `batos --help` is what typer prints (regenerate with `make completions`)."""

from __future__ import annotations

import io

from batos_cli import env as env_module
from batos_cli.completions_gen import render_top_help
from batos_cli.fastpath import HELP_FILE, try_run


def test_the_committed_help_matches_the_app() -> None:
    assert HELP_FILE.read_text() == render_top_help(), "run `make completions` to regenerate it"


def test_help_and_plain_sends_take_the_fast_path_and_options_do_not() -> None:
    out = io.StringIO()
    env = env_module.Environment(stdout=out, stderr=io.StringIO())
    assert try_run(["--help"], env) == 0
    assert out.getvalue().startswith("Usage: batos")
    for args in (
        ["send", "genesis", "--review", "x"],
        ["send", "genesis", "add:", "-3"],
        ["send", "genesis"],
        ["inspect", "genesis"],
        ["repl", "--help"],
        ["send", "--help"],
    ):
        assert try_run(args, env) is None, args


def test_usage_errors_exit_2_with_the_usage_line() -> None:
    from batos_cli.main import main

    err = io.StringIO()
    env_module.use(env_module.Environment(stdout=io.StringIO(), stderr=err))
    try:
        assert main(["inspect"]) == 2
    finally:
        env_module.use(env_module.Environment())
    assert "Usage: batos inspect" in err.getvalue()
    assert "Missing argument" in err.getvalue()
