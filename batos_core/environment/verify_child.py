"""`python -m batos_core.environment.verify_child --image URI [--distribution NAME]...`

Runs in the interpreter of a new environment; prints one JSON line (the
fields of `verify.VerifyReport` without `python`) and exits 0, whatever it
found. Problems are collected, not raised, so that one report lists them all.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

#: What the daemon imports before it serves; a broken batos fails here.
DAEMON_MODULES = ("batos_core.daemon.server", "batos_core.daemon.lifecycle", "batos_core.jit.hook")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batos_core.environment.verify_child")
    parser.add_argument("--image", required=True)
    parser.add_argument("--distribution", action="append", default=[])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.monotonic()
    problems: list[str] = []
    modules = [*DAEMON_MODULES, *_distribution_modules(args.distribution, problems)]
    _import_all(modules, problems)
    objects = methods = 0
    if not any(p.startswith("import batos_core") for p in problems):
        objects, methods, imported = _check_image(args.image, problems)
        _import_all(imported, problems)
        modules += imported
    report = {
        "objects": objects,
        "methods": methods,
        "modules": sorted(set(modules)),
        "problems": problems,
        "seconds": time.monotonic() - started,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


def _distribution_modules(names: list[str], problems: list[str]) -> list[str]:
    """Top-level importable modules of each distribution (from its installed files)."""
    found: list[str] = []
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            problems.append(f"distribution {name} is not installed")
            continue
        top = (dist.read_text("top_level.txt") or "").split()
        if not top:
            top = sorted({_top_module(str(f)) for f in dist.files or [] if _top_module(str(f))})
        found += [t for t in top if t.isidentifier()]
    return found


def _top_module(path: str) -> str:
    first = path.split("/", 1)[0]
    if first.endswith((".dist-info", ".egg-info", ".data")) or first in ("..", "__pycache__"):
        return ""
    if "/" in path:
        return first
    return first[: -len(".py")] if first.endswith(".py") else ""


def _import_all(modules: list[str], problems: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException as exc:  # a package may raise anything, even SystemExit
            problems.append(f"import {name}: {type(exc).__name__}: {exc}")


def _check_image(image: str, problems: list[str]) -> tuple[int, int, list[str]]:
    from batos_core.image import ImageError
    from batos_core.selfsyntax.runtime import provide_runtime

    provide_runtime()  # methods written in Self compile against it, as in the daemon

    try:
        with _opened(image) as opened:
            return _load_everything(opened, problems)
    except ImageError as exc:
        problems.append(f"cannot open the image: {exc}")
    return 0, 0, []


@contextmanager
def _opened(image: str) -> Iterator[Any]:
    """The live image read-only; a copy when this batos would first migrate it."""
    from batos_core.image import ImageError, open_image
    from batos_core.image.storage import parse_image_uri
    from batos_core.image_format import MIGRATIONS

    spec = parse_image_uri(image)
    if spec.scheme == "memory":
        raise ImageError("a memory:// image lives only in its daemon's process; it cannot be handed over")
    try:
        live = open_image(image, migrations=MIGRATIONS, read_only=True)
    except ImageError as exc:
        if "needs migrations" not in str(exc) or spec.path is None:
            raise
    else:
        with live:
            yield live
        return
    with tempfile.TemporaryDirectory(prefix="batos-verify-") as tmp:
        copy = Path(tmp) / spec.path.name
        shutil.copyfile(spec.path, copy)
        with open_image(copy, migrations=MIGRATIONS) as img:  # migrates the copy, never the live image
            yield img


def _load_everything(img: Any, problems: list[str]) -> tuple[int, int, list[str]]:
    from ZODB.broken import Broken
    from ZODB.POSException import POSKeyError

    from batos_core.objects import Method

    storage = img.db.storage
    # The daemon keeps committing while this runs, and the iterator reads the
    # file to its current end: stop at the last transaction this read-only
    # snapshot knows. That is not enough on its own: FileStorage's index scan
    # reports as its last tid the tid of a transaction it found still being
    # written (and did not index), so that transaction's new oids are listed
    # but not in the snapshot. They raise POSKeyError below and are skipped:
    # an oid the iterator lists has a record in the file, so POSKeyError can
    # only mean "not in this snapshot", never a dangling reference.
    last = storage.lastTransaction()
    oids = {record.oid for txn in storage.iterator(stop=last) for record in txn}
    connection = img.default_session.connection
    methods = 0
    imported: set[str] = set()
    for oid in sorted(oids):
        label = f"{int.from_bytes(oid, 'big'):#x}"
        try:
            obj = connection.get(oid)
            obj._p_activate()
        except POSKeyError:
            continue  # committed after the snapshot was opened (see above)
        except Exception as exc:
            problems.append(f"object {label} does not load: {type(exc).__name__}: {exc}")
            continue
        if isinstance(obj, Broken):
            problems.append(f"object {label} is Broken ({type(obj).__module__}.{type(obj).__name__})")
        elif isinstance(obj, Method):
            methods += 1
            imported |= _method_imports(obj, label, problems)
    return len(oids), methods, sorted(imported)


def _method_imports(method: Any, label: str, problems: list[str]) -> set[str]:
    try:
        method.compiled()  # compiles it (a suspended method too)
    except Exception as exc:
        problems.append(f"method {method.selector} ({label}) does not compile: {exc}")
        return set()
    found: set[str] = set()
    for node in ast.walk(ast.parse(method.source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


if __name__ == "__main__":
    sys.exit(main())
