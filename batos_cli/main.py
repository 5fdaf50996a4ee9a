"""Entry point: run the typer app and turn any error into one line and an exit status."""

from __future__ import annotations

import gc
import sys

from batos_cli.status import ExitStatus


def main(argv: list[str] | None = None) -> int:
    """Run `batos` with `argv` (default: sys.argv[1:]) and return the exit status."""
    from batos_cli import env as env_module
    from batos_cli import render
    from batos_cli.status import exit_status_for

    environment = env_module.current()
    args = sys.argv[1:] if argv is None else argv
    try:
        from batos_cli.fastpath import try_run

        status = try_run(args, environment)
        if status is not None:
            return status
        from batos_cli.app import app

        # With standalone_mode=False click returns a `typer.Exit(code)`'s code
        # instead of raising it; dropping it would turn every Exit into 0.
        result = app(args=args, prog_name="batos", standalone_mode=False)
    except SystemExit as exc:  # typer.Exit / click usage errors in standalone=False land here
        return int(exc.code or 0)
    except KeyboardInterrupt:
        render.print_error(environment, "interrupted")
        return ExitStatus.INTERRUPTED
    except Exception as exc:
        return _report(environment, exc, exit_status_for(exc))
    return int(result) if isinstance(result, int) else ExitStatus.OK


def _report(environment: object, exc: Exception, status: ExitStatus) -> int:
    from batos_cli import render
    from batos_cli.env import Environment
    from batos_cli.status import CliError

    assert isinstance(environment, Environment)
    # typer ships its own click; its exceptions exist only if typer was loaded
    # (the fast path never loads it).
    typer = sys.modules.get("typer")
    if typer is not None:
        if isinstance(exc, typer.Exit):
            return int(exc.exit_code)
        if isinstance(exc, typer.TyperException) and hasattr(exc, "show"):
            exc.show(file=environment.stderr)  # usage line + the problem, as click prints it
            return ExitStatus.USAGE
        if isinstance(exc, typer.Abort):
            return ExitStatus.INTERRUPTED
    hint = exc.hint if isinstance(exc, CliError) else ""
    message = getattr(exc, "message", None) if type(exc).__name__ == "RemoteError" else None
    if message is not None:
        render.print_error(environment, f"{getattr(exc, 'name', '')}: {message}", hint)
    else:
        render.print_error(environment, str(exc), hint)
    return int(status)


def run() -> None:
    """Console-script entry point."""
    status = main()
    # Interpreter shutdown runs a full cyclic collection over everything the
    # imports allocated (typer, pydantic, rich): 0.2-0.4 s of a 1 s `batos send`
    # on a busy 2-core machine. Sockets and files are closed explicitly and
    # stdout is flushed at exit regardless, so that pass buys nothing: skip it.
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
