"""The typer application: global options and the command groups."""

from __future__ import annotations

from typing import Annotated

import typer

from batos_cli import state
from batos_cli.commands import autotelic, daemon, image, methods, model, objects, repl, review, ui, upgrade

app = typer.Typer(
    name="batos",
    help="A live, persistent, prototype-based object world whose missing methods a local LLM writes.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main_options(
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            "-i",
            envvar="BATOS_IMAGE",
            help="Image path or URI (file://, memory://, zeo://host:port, postgresql://user@host:port/db).",
            show_default=False,
        ),
    ] = None,
    runtime_dir: Annotated[
        str | None,
        typer.Option(
            "--runtime-dir",
            envvar="BATOS_RUNTIME_DIR",
            hidden=True,
            help="Private directory for sockets and connection files.",
        ),
    ] = None,
) -> None:
    """Options every command shares."""
    state.configure(image=image, runtime_dir=runtime_dir)


app.add_typer(daemon.app, name="daemon")
app.add_typer(model.app, name="model")
app.add_typer(image.app, name="image")
objects.register(app)
methods.register(app)
review.register(app)
repl.register(app)
ui.register(app)
autotelic.register(app)
upgrade.register(app)
