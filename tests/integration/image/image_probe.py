"""A second process for the image integration tests: `python image_probe.py COMMAND ARGS`.

Commands (each prints one JSON line on stdout when it has a result):

* ``load-all PATH``: open the FileStorage read-only, load every object that any
  transaction record names, and report Broken instances and Method compiles.
* ``hold PATH``: open the image, print ``{"ready": true}``, keep it open (and so
  locked) until a line arrives on stdin.
* ``zeo-peer URI N``: read ``genesis.from_test``, write ``genesis.from_peer``,
  print ``{"ready": true}``, then add 1 to ``genesis.counter`` N times
  (retrying conflicts).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ZODB.broken import Broken

from batos_core.image import open_image
from batos_core.image_format import MIGRATIONS
from batos_core.objects import Method


def load_all(path: str) -> dict[str, Any]:
    broken: list[str] = []
    methods = compiled = 0
    with open_image(path, read_only=True, migrations=MIGRATIONS) as img:
        storage = img.db.storage
        oids = {record.oid for txn in storage.iterator() for record in txn}
        connection = img.default_session.connection
        for oid in sorted(oids):
            obj = connection.get(oid)
            obj._p_activate()
            if isinstance(obj, Broken):
                broken.append(f"{int.from_bytes(oid, 'big'):#x} {type(obj).__module__}.{type(obj).__name__}")
            if isinstance(obj, Method):
                methods += 1
                if callable(obj.function):
                    compiled += 1
    return {"objects": len(oids), "broken": broken, "methods": methods, "compiled": compiled}


def hold(path: str) -> None:
    with open_image(path, migrations=MIGRATIONS):
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()


def zeo_peer(uri: str, increments: int) -> dict[str, Any]:
    with open_image(uri, migrations=MIGRATIONS) as img:
        session = img.session()
        seen = session.genesis.from_test
        session.genesis.from_peer = f"peer saw {seen}"
        session.commit()
        print(json.dumps({"ready": True}), flush=True)  # the caller now increments too
        runs = 0
        for _ in range(increments):
            for attempt in session.transaction_manager.attempts(50):
                with attempt:
                    runs += 1
                    genesis = session.genesis
                    genesis.counter = genesis.counter + 1
        session.close()
    return {"seen": seen, "retries": runs - increments}


def main(argv: list[str]) -> int:
    command, target = argv[1], argv[2]
    if command == "load-all":
        print(json.dumps(load_all(target)), flush=True)
    elif command == "hold":
        hold(target)
    elif command == "zeo-peer":
        print(json.dumps(zeo_peer(target, int(argv[3]))), flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
