"""An image written by one process is loaded whole by another; a held image is locked."""

from __future__ import annotations

import json
from pathlib import Path

import persistent
import pytest
from image_probe_client import read_line, run_probe, start_probe

from batos_core.image import ImageLocked, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.objects import Method, UvmObject, clone, set_slot


class Stray(persistent.Persistent):
    """A class the probe process cannot import (its module is not on its path)."""


def populate(path: Path) -> None:
    """Write a varied image: data, containers, constants, method versions, a clone, a chain."""
    with open_image(path, migrations=MIGRATIONS) as img:
        s = img.session()
        lobby = s.lobby
        account = UvmObject(balance=10, history=[1, [2, 3]], meta={"tags": ["a"]})
        set_slot(account, "parent*", s.traits)
        set_slot(account, "currency", "EUR", constant=True)
        v1 = Method("deposit_", "def deposit_(self, n):\n    self.balance += n\n    return self\n")
        set_slot(account, "deposit_", v1)
        s.commit()
        v2_source = (
            "import math\n\n\ndef deposit_(self, n):\n    self.balance += math.floor(n)\n    return self\n"
        )
        set_slot(account, "deposit_", Method("deposit_", v2_source, previous=v1))
        lobby.account = account
        lobby.savings = clone(account)
        chain = account
        for _ in range(50):
            chain = UvmObject(**{"parent*": chain})
        lobby.deep = chain
        s.commit()
        account.deposit_(2.5)
        s.commit()
        s.close()


def test_fresh_process_loads_every_object_without_broken_ones(image_path: Path, tmp_path: Path) -> None:
    populate(image_path)
    before = image_path.read_bytes()
    result = run_probe("load-all", str(image_path), cwd=tmp_path)
    assert result["broken"] == []
    assert result["objects"] > 60  # lobby, traits, 7 primordials, account, versions, chain...
    assert result["methods"] >= 7 + 2  # the primordials, deposit_ v1 and v2
    assert result["compiled"] == result["methods"]
    assert image_path.read_bytes() == before  # a read-only load


def test_probe_does_report_broken_objects(image_path: Path, tmp_path: Path) -> None:
    # The check above must be able to fail: an instance of a class that the
    # other process cannot import loads as Broken there.
    with open_image(image_path, migrations=MIGRATIONS) as img:
        s = img.session()
        s.root["stray"] = Stray()
        s.commit()
        s.close()
    result = run_probe("load-all", str(image_path), cwd=tmp_path)
    assert len(result["broken"]) == 1
    assert "Stray" in result["broken"][0]


def test_image_held_by_another_process_is_locked(image_path: Path, tmp_path: Path) -> None:
    open_image(image_path, migrations=MIGRATIONS).close()
    holder = start_probe("hold", str(image_path), cwd=tmp_path)
    try:
        line = read_line(holder.stdout, timeout=60) if holder.stdout else ""
        assert json.loads(line) == {"ready": True}, holder.stderr.read() if holder.stderr else ""
        with pytest.raises(ImageLocked) as info:
            open_image(image_path, migrations=MIGRATIONS)
        assert "\n" not in str(info.value) and "locked" in str(info.value)
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    open_image(image_path, migrations=MIGRATIONS).close()  # released when the holder exits
