"""A real daemon (sockets, workers, image, JIT) run in this process, so tests can drive its clock.

The daemon is `batos_core.daemon.server.Daemon` serving on an ``ipc://`` path
under the test's directories, on its own thread and event loop; clients talk
to it over the signed protocol like any other. The model is a scripted
backend the test fills; `SlowScriptedBackend` streams its replies slowly
(checking the cancel switch between pieces, like a real model) so an act can
be caught in progress.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from batos_core.autotelic.service import AutotelicService
from batos_core.daemon.server import Daemon
from batos_core.daemon_config import DaemonConfig
from batos_core.jit.backends.base import Generation, Message, TokenCallback
from batos_core.jit.backends.scripted import ScriptedBackend
from batos_core.jit.pipeline import JitCompiler, JitSettings
from batos_core.protocol.builders import send_request
from batos_core.protocol.client import Client
from batos_core.protocol.connection import ConnectionInfo

READY_TIMEOUT_S = 30.0


class FakeClock:
    """The injectable clock: time moves only when the test says so."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SlowScriptedBackend(ScriptedBackend):
    """A scripted model that takes `delay` seconds per streamed piece."""

    def __init__(self, outputs: Sequence[str] = (), delay: float = 0.05) -> None:
        super().__init__(outputs)
        self.delay = delay

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
        selector: str | None = None,
    ) -> Generation:
        def slow(piece: str) -> None:
            time.sleep(self.delay)
            if on_token is not None:
                on_token(piece)

        return super().generate(
            messages,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            on_token=slow,
            cancel=cancel,
            selector=selector,
        )


@dataclass
class LiveDaemon:
    daemon: Daemon
    backend: ScriptedBackend
    clock: FakeClock
    info: ConnectionInfo
    thread: threading.Thread
    clients: list[Client] = field(default_factory=list)

    @property
    def service(self) -> AutotelicService:
        assert self.daemon.autotelic is not None
        return self.daemon.autotelic

    def request(self, message: Any, timeout: float = 30.0) -> dict[str, Any]:
        with Client.from_connection_info(self.info, timeout=timeout, retries=0) as client:
            reply: dict[str, Any] = client.request(message)
        return reply

    def send(self, receiver: str, selector: str, *args: Any) -> dict[str, Any]:
        return self.request(send_request(receiver, selector, list(args)))

    def ticks_pass(self, count: int = 3, timeout: float = 10.0) -> None:
        """Poke the heartbeat and wait until it has woken `count` more times."""
        heartbeat = self.service.heartbeat
        target = heartbeat.ticks + count
        deadline = time.monotonic() + timeout
        while heartbeat.ticks < target:
            heartbeat.poke()
            assert time.monotonic() < deadline, "the heartbeat stopped ticking"
            time.sleep(0.02)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
            time.sleep(0.02)

    def acts(self) -> list[dict[str, Any]]:
        return self.service.recent_acts(100)

    def wait_act_done(self, timeout: float = 30.0) -> dict[str, Any]:
        self.wait_for(lambda: bool(self.acts()), timeout, "an act to start")
        self.wait_for(lambda: self.acts()[0]["outcome"] != "running", timeout, "the act to end")
        return self.acts()[0]

    def stop(self) -> None:
        loop = self.daemon._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.daemon.request_stop)
        self.thread.join(30.0)


def start_live(
    dirs: Any,
    backend: ScriptedBackend,
    *,
    enabled: bool = True,
    attempts: int = 2,
    **settings: Any,
) -> LiveDaemon:
    """Open, configure (fake clock, fast ticks, `settings` overrides) and serve a daemon."""
    clock = FakeClock()
    compiler = JitCompiler(backend, JitSettings(attempts=attempts, candidates=1))
    config = DaemonConfig(
        image=str(dirs.image), runtime_dir=dirs.runtime_dir, workers=2, backend="scripted", autotelic=enabled
    )
    daemon = Daemon(config, on_miss=compiler.on_miss, compiler=compiler)
    daemon.open()
    service = daemon.autotelic
    assert service is not None
    service.clock = clock
    service.config.tick_s = 0.02
    service.config.idle_s = 100.0
    service.config.sample_s = 10.0
    for name, value in settings.items():
        setattr(service.config, name, value)
    ready = threading.Event()
    infos: list[ConnectionInfo] = []

    def on_ready(info: ConnectionInfo) -> None:
        infos.append(info)
        ready.set()

    thread = threading.Thread(target=lambda: asyncio.run(daemon.serve(ready=on_ready)), daemon=True)
    thread.start()
    assert ready.wait(READY_TIMEOUT_S), "the daemon did not become ready"
    return LiveDaemon(daemon, backend, clock, infos[0], thread)
