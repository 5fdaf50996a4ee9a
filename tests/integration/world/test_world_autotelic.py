"""The autotelic loop on a shared world (a real ZEO server): one daemon at a time runs an act,
under the world's ``autotelic`` lease. Two images opened in this process stand for two daemons
(each its own ZEO client); their models are scripted and slow, so an act lasts until stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from batos_core.autotelic.service import AutotelicService
from batos_core.image import Image, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.jit.backends.scripted import ScriptedBackend
from batos_core.jit.pipeline import JitCompiler, JitSettings
from batos_core.world.lease import LEASES_KEY
from batos_core.zeo_record import ServerRecord

PROPOSAL = "selector: doubled\nintent: twice the balance\ncheck: self.doubled() == 2\n" + "more " * 400


@pytest.fixture
def two_daemons(zeo_world: ServerRecord) -> Iterator[list[AutotelicService]]:
    images: list[Image] = [open_image(zeo_world.uri, migrations=MIGRATIONS) for _ in range(2)]
    services = [
        AutotelicService(
            image,
            JitCompiler(
                ScriptedBackend([PROPOSAL], seconds_per_piece=0.05), JitSettings(attempts=1, candidates=1)
            ),
        )
        for image in images
    ]
    try:
        yield services
    finally:
        for service in services:
            service.set_enabled(False)
            service.wait_idle(30)
            service.close()
        for image in images:
            image.close()


def test_one_daemon_at_a_time_runs_an_act(two_daemons: list[AutotelicService]) -> None:
    first, second = two_daemons
    for service in two_daemons:
        service.enabled = True
    started, message = first.start_act("test")
    assert started is not None, message
    refused, why = second.start_act("test")
    assert refused is None
    assert why.startswith("another daemon of this world (") and why.endswith(") runs the autotelic loop now")
    first.set_enabled(False)  # stops the act at its next token
    assert first.wait_idle(30)
    with first.image.session() as session:
        assert dict(session.root[LEASES_KEY]) == {}  # given back when the act ended
    started, message = second.start_act("test")
    assert started is not None, message
