"""The UI process: ``python -m batos_core.gui`` (what ``batos ui`` spawns).

Steps, each failing with a :class:`UiError` that names what to do next:

1. find the daemon of the image (its connection file; this process never
   starts one, the CLI does);
2. with a synchronous client, read the target's state and the source of its
   ``display_yourself`` Method (``source_request``), unless ``--fallback``;
3. vet and load the source into an App class (``loader``), with the bridge in
   its namespace and a snapshot of the target as ``self``;
4. run the app; with ``--screenshot``/``--report`` (or a test script) a
   ``Capture`` saves the first frame that shows state and stops the app.

Exit status: 0, 1 (the UI failed; the message names the line of its source),
2 (usage, or no display), 3 (no daemon answered).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from batos_core.gui import display
from batos_core.gui.errors import EXIT_DAEMON_UNAVAILABLE, EXIT_USAGE, UiError
from batos_core.gui.loader import UiSource
from batos_core.ui_contract import UI_SELECTOR, UI_TARGET

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m batos_core.gui", description=f"Show the UI of a batos image (its {UI_SELECTOR})."
    )
    parser.add_argument("--image", default=None, help="image path or URI (default: BATOS_IMAGE)")
    parser.add_argument("--runtime-dir", default=None, help="the daemon's runtime directory")
    parser.add_argument("--connection-file", type=Path, default=None, help="the daemon's connection file")
    parser.add_argument("--target", default=UI_TARGET, help=f"the object whose {UI_SELECTOR} to show")
    parser.add_argument("--fallback", action="store_true", help="show the hand-written inspector")
    parser.add_argument(
        "--source-file",
        type=Path,
        default=None,
        help=f"run this {UI_SELECTOR} source instead (development)",
    )
    parser.add_argument("--screenshot", type=Path, default=None, help="save the first frame with state; exit")
    parser.add_argument("--report", type=Path, default=None, help="write what the widgets show (JSON); exit")
    parser.add_argument("--timeout", type=float, default=REQUEST_TIMEOUT_S, help="seconds per request")
    parser.add_argument("--log-level", default=os.environ.get("BATOS_LOG_LEVEL", "WARNING"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the UI; returns the exit status (see the module docstring). Never raises UiError."""
    args = build_parser().parse_args(argv)
    capturing = args.screenshot is not None or args.report is not None
    if not capturing and not display.has_display():
        sys.stderr.write(f"batos ui: {display.HOW_TO_VIEW}\n")
        return EXIT_USAGE
    display.prepare(os.environ, offscreen=capturing)
    _setup_logging(args.log_level)
    try:
        return _run(args)
    except UiError as exc:
        sys.stderr.write(exc.render())
        return exc.exit_status


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("batos ui: %(levelname)s %(name)s: %(message)s"))
    if level.upper() != "DEBUG":
        # Kivy logs its provider probing (no xclip, no mtdev) as errors with
        # tracebacks; the user sees them only when asking for debug output.
        handler.addFilter(lambda record: not record.name.startswith("kivy"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())


def _run(args: argparse.Namespace) -> int:
    from batos_core.gui.bridge import SynapticBridge
    from batos_core.gui.capture import SCRIPT_ENV, CapturePlan, load_script

    plan = CapturePlan(screenshot=args.screenshot, report=args.report)
    if os.environ.get(SCRIPT_ENV):
        try:
            plan.script = load_script(Path(os.environ[SCRIPT_ENV]))
        except ValueError as exc:
            raise UiError(str(exc), hint="", exit_status=EXIT_USAGE) from None
    info = _connection_info(args)
    state, ui = _fetch(info, args)
    bridge = SynapticBridge.from_connection_info(info, timeout=args.timeout)
    try:
        app_class = _app_class(args, bridge, state, ui)
        bridge.start()
        return _run_app(app_class, bridge, plan, ui)
    finally:
        bridge.close()


def _connection_info(args: argparse.Namespace) -> Any:
    from batos_core.places import DaemonPlaces
    from batos_core.protocol.connection import read_connection_file
    from batos_core.protocol.errors import ProtocolError

    path: Path = args.connection_file
    if path is None:
        places = DaemonPlaces()
        if args.image:
            places.image = args.image
        if args.runtime_dir:
            places.runtime_dir = Path(args.runtime_dir)
        path = places.connection_path()
    if not path.exists():
        raise UiError(
            f"no daemon is running for this image (no connection file {path})",
            hint="start one with `batos daemon start` (`batos ui` does it for you)",
            exit_status=EXIT_DAEMON_UNAVAILABLE,
        )
    try:
        return read_connection_file(path)
    except ProtocolError as exc:
        raise UiError(
            f"cannot read the connection file: {exc}", exit_status=EXIT_DAEMON_UNAVAILABLE
        ) from None


def _fetch(info: Any, args: argparse.Namespace) -> tuple[dict[str, Any], UiSource | None]:
    """The target's state, and the UI source (None with --fallback)."""
    from batos_core.gui.replies import plain_state
    from batos_core.protocol.builders import get_full_state_request, source_request
    from batos_core.protocol.client import Client
    from batos_core.protocol.errors import DaemonUnavailable, ProtocolError

    target: str = args.target
    try:
        with Client.from_connection_info(info, timeout=args.timeout, retries=1) as client:
            reply = client.request(get_full_state_request(target))
            if reply.get("type") == "error_reply":
                raise UiError(f"cannot read {target}: {reply.get('name')}: {reply.get('message')}")
            state = plain_state(reply.get("state") or {})
            if args.fallback:
                return state, None
            if args.source_file is not None:
                return state, _source_from_file(target, args.source_file)
            return state, _source_from_reply(target, client.request(source_request(target, UI_SELECTOR)))
    except DaemonUnavailable as exc:
        raise UiError(
            f"the daemon at {info.endpoint} does not answer: {exc}",
            hint="check it with `batos daemon status`; restart it with `batos daemon stop` and `start`",
            exit_status=EXIT_DAEMON_UNAVAILABLE,
        ) from None
    except ProtocolError as exc:
        raise UiError(f"cannot talk to the daemon: {exc}", exit_status=EXIT_DAEMON_UNAVAILABLE) from None


def _source_from_reply(target: str, reply: dict[str, Any]) -> UiSource:
    if reply.get("type") == "source_reply":
        return UiSource(target, str(reply["source"]), int(reply.get("version") or 0))
    code = reply.get("code")
    # The target itself resolved a moment ago (its state was read), so "not
    # found" here means the method: the daemon reports it as method_not_found
    # or, from a MethodNotFound that is an ObjectNotFound, object_not_found.
    if code in ("method_not_found", "slot_not_found", "object_not_found"):
        raise UiError(
            f"{target} has no {UI_SELECTOR} method yet",
            hint=f"have the model write one: batos send {target} {UI_SELECTOR}; or: batos ui --fallback",
        )
    if code == "unknown_type":
        raise UiError("this daemon cannot serve method sources (it does not handle source_request)")
    raise UiError(
        f"cannot read the source of {target} {UI_SELECTOR}: {reply.get('name')}: {reply.get('message')}"
    )


def _source_from_file(target: str, path: Path) -> UiSource:
    try:
        return UiSource(target, path.read_text(), origin=str(path))
    except OSError as exc:
        raise UiError(f"cannot read {path}: {exc}", hint="", exit_status=EXIT_USAGE) from None


def _app_class(args: argparse.Namespace, bridge: Any, state: dict[str, Any], ui: UiSource | None) -> type:
    if ui is None:
        from batos_core.gui.fallback import inspector_app

        return inspector_app(bridge, args.target)
    from batos_core.gui.loader import RemoteObject, load_app_class

    return load_app_class(ui, bridge, RemoteObject(args.target, state))


def _run_app(app_class: type, bridge: Any, plan: Any, ui: UiSource | None) -> int:
    from batos_core.gui.capture import Capture
    from batos_core.gui.loader import failure_in_source

    try:
        app = app_class()
        capture = Capture(app, bridge, plan) if plan.active else None
        if capture is not None:
            capture.install()
        app.run()
    except Exception as exc:
        if ui is None:
            raise  # the fallback inspector is ours: a failure there is a bug, with its traceback
        raise failure_in_source(exc, ui, "the UI failed while running") from None
    if capture is not None and capture.failed:
        raise UiError("; ".join(capture.script_errors), hint="")
    return 0
