"""``python -m batos_core.image_tool check|recover PATH`` and ``pack URI --days N``:
what ``batos image`` runs.

It sits above the image: a pack opens the image with every migration of this
batos (``daemon.image_format``) and checks that the change log reads the same
afterwards, and the image itself knows neither.

The CLI never imports ZODB (it must start fast), so it runs this module in
a child process. The child prints one JSON line, ``{"status": S, "message":
M}``, and exits 0 when S is ``ok`` or ``recovered``, 1 otherwise. S is one
of ``ok``, ``recovered``, ``packed``, ``damaged``, ``in_use``, ``not_an_image``,
``unreachable`` and ``error``; `batos_cli.status` maps them to exit statuses. Anything else on
stdout or stderr is not part of the contract.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from batos_core.image.damage import check_image, recovery_hint
from batos_core.image.errors import ImageDamaged, ImageError, ImageLocked, NotAnImage
from batos_core.image.recovery import recover_image
from batos_core.image.storage import parse_image_uri

OK_STATUSES = frozenset({"ok", "recovered", "packed"})


def check(path: Path) -> tuple[str, str]:
    """(status, one-line message) for ``batos image check``."""
    if not path.is_file():
        return "not_an_image", f"{path} does not exist or is not a file"
    problem = check_image(path)
    if problem is None:
        return "ok", f"{path}: OK"
    return "damaged", f"damaged image {path}: {problem}; {recovery_hint(path)}"


def recover(path: Path) -> tuple[str, str]:
    """(status, one-line message) for ``batos image recover``."""
    recovered = recover_image(path)
    if recovered is None:
        return "ok", f"{path}: OK, nothing to recover"
    removed = "" if recovered.bytes_removed is None else f", {recovered.bytes_removed} bytes removed"
    return "recovered", (
        f"recovered {path} ({recovered.problem}): {recovered.size_after} of "
        f"{recovered.size_before} bytes{removed}; the damaged original is {recovered.damaged_copy}"
    )


def pack(image: str, days: float) -> tuple[str, str]:
    """(status, one-line message) for ``batos image pack``; any storage but memory."""
    from batos_core.image.errors import StorageUnreachable
    from batos_core.image.pack import pack_image
    from batos_core.image_format import MIGRATIONS

    try:
        if parse_image_uri(image).scheme == "memory":
            return "not_an_image", "a memory:// world lives in one process: there is nothing to pack"
        result = pack_image(image, days, migrations=MIGRATIONS, history=_change_log_records)
    except ImageLocked as exc:
        return "in_use", f"{exc}: stop its daemon first (batos daemon stop), or pack it through ZEO"
    except StorageUnreachable as exc:
        return "unreachable", str(exc)
    except (ValueError, ImageError, OSError) as exc:
        return "error", str(exc)
    return "packed", (
        f"packed {result.uri}, keeping {days:g} days of revisions: {result.size_before} -> "
        f"{result.size_after} bytes in {result.seconds:.1f} s"
    )


def _change_log_records(root: MutableMapping[str, Any]) -> list[Any]:
    """What `batos history` shows, which a pack must keep: the change log's records."""
    from batos_core.methods.changelog import change_log

    return [record.to_json() for record in change_log(root)]


def run(action: str, image: str) -> tuple[str, str]:
    """Run `action` on `image` (a path or ``file://`` URI); every expected error is a status."""
    try:
        spec = parse_image_uri(image)
        if spec.scheme != "file" or spec.path is None:
            return "not_an_image", f"{image}: only FileStorage images (a path) can be checked or recovered"
        return check(spec.path) if action == "check" else recover(spec.path)
    except ImageLocked as exc:
        return "in_use", str(exc)
    except NotAnImage as exc:
        return "not_an_image", str(exc)
    except ImageDamaged as exc:
        return "damaged", str(exc)
    except (ImageError, OSError) as exc:
        return "error", str(exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batos_core.image_tool")
    parser.add_argument("action", choices=("check", "recover", "pack"))
    parser.add_argument("image")
    parser.add_argument("--days", type=float, default=0.0, help="pack: days of revisions to keep")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # ZODB's warnings about the damage: the line says it
    if args.action == "pack":
        status, message = pack(args.image, args.days)
    else:
        status, message = run(args.action, args.image)
    sys.stdout.write(json.dumps({"status": status, "message": message}) + "\n")
    return 0 if status in OK_STATUSES else 1


if __name__ == "__main__":
    sys.exit(main())
