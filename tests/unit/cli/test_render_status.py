"""`batos daemon status` in words: which backend, model, engine and quantization serve."""

from __future__ import annotations

import io
from typing import Any

from batos_cli import render
from batos_cli.env import Environment

REPLY: dict[str, Any] = {
    "type": "status_reply",
    "pid": 4242,
    "image": "/home/u/image.fs",
    "incarnation": 3,
    "uptime_s": 12.5,
    "workers": 4,
    "queue_depth": 0,
    "backend": "llamacpp",
    "model": "qwen2.5-coder-1.5b-instruct",
}


def _shown(reply: dict[str, Any]) -> str:
    out = io.StringIO()
    render.print_status(Environment(stdout=out, stderr=io.StringIO()), reply)
    return out.getvalue().splitlines()[-1]


def test_the_engine_and_quantization_follow_the_backend() -> None:
    reply = {**REPLY, "engine": "llama.cpp (llama-cpp-python 0.3.36)", "quantization": "Q4_K_M"}
    assert _shown(reply) == (
        "  JIT backend: llamacpp (qwen2.5-coder-1.5b-instruct) on llama.cpp (llama-cpp-python 0.3.36), Q4_K_M"
    )


def test_older_daemons_and_no_backend_show_just_the_backend() -> None:
    assert _shown(REPLY) == "  JIT backend: llamacpp (qwen2.5-coder-1.5b-instruct)"
    assert _shown({**REPLY, "backend": "none", "model": "", "engine": ""}) == "  JIT backend: none"
