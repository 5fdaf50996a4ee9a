"""Fixtures for protocol tests: a zmq context and a tiny ROUTER on an ipc:// path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from .tiny_router import TinyRouter


@pytest.fixture
def context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield ctx
    ctx.term()


@pytest.fixture
def router(tmp_path: Path, context: zmq.Context[zmq.Socket[bytes]]) -> Iterator[TinyRouter]:
    server = TinyRouter(context, f"ipc://{tmp_path}/uvm.sock")
    server.start()
    yield server
    server.stop()
