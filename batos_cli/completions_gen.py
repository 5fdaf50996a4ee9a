"""Generate the bash, zsh and fish completion scripts from the typer app.

`make completions` runs ``python -m batos_cli.completions_gen completions``
and the scripts are committed under ``completions/``. They are static (no
Python runs while completing commands and options) except for object names:
the first argument of a command whose first parameter is a receiver or a
target is completed with ``batos __complete-names PREFIX``, which asks a
running daemon with a short timeout and never starts one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: A command whose first argument has one of these names completes lobby names.
NAME_ARGUMENTS = frozenset({"receiver", "target"})
NAMES_COMMAND = "batos __complete-names"


@dataclass(frozen=True)
class OptionSpec:
    names: tuple[str, ...]
    takes_value: bool
    help: str


@dataclass
class CommandSpec:
    """One command (or group) at `path` below `batos`."""

    path: tuple[str, ...]
    help: str
    options: list[OptionSpec] = field(default_factory=list)
    subcommands: list[str] = field(default_factory=list)
    completes_names: bool = False


def collect(root: Any) -> list[CommandSpec]:
    """Every visible command, depth first, root first (path ``()``)."""
    specs: list[CommandSpec] = []
    _walk(root, (), specs)
    return specs


def _walk(command: Any, path: tuple[str, ...], out: list[CommandSpec]) -> None:
    # Duck-typed: typer ships its own copy of click, so isinstance checks against
    # the `click` package would see no options and no commands.
    options = [
        OptionSpec(
            tuple(p.opts + p.secondary_opts),
            not (p.is_flag or p.count),
            _first_line(p.help or ""),
        )
        for p in command.params
        if p.param_type_name == "option" and not p.hidden
    ]
    options.append(OptionSpec(("--help", "-h"), False, "Show help and exit."))
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    spec = CommandSpec(
        path,
        _first_line(command.help or command.short_help or ""),
        options,
        completes_names=bool(arguments) and arguments[0].name in NAME_ARGUMENTS,
    )
    out.append(spec)
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            if not sub.hidden:
                spec.subcommands.append(name)
                _walk(sub, (*path, name), out)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line.rstrip(".")


def _value_options(specs: Sequence[CommandSpec]) -> list[str]:
    return sorted({name for s in specs for o in s.options if o.takes_value for name in o.names})


# -- bash ------------------------------------------------------------------------


def bash_script(specs: Sequence[CommandSpec]) -> str:
    """A bash completion function for `batos` (source it, or install into bash-completion's dir)."""
    cases = []
    for spec in specs:
        words = spec.subcommands + [n for o in spec.options for n in o.names]
        cases.append(
            f'        "{" ".join(spec.path)}") words="{" ".join(words)}"; '
            f"names={int(spec.completes_names)} ;;"
        )
    return (
        _HEADER.format(comment="#")
        + "_batos() {\n"
        + '    local cur="${COMP_WORDS[COMP_CWORD]}" cmd_path="" word i positional=0 skip=0 words names\n'
        + f'    local value_options=" {" ".join(_value_options(specs))} "\n'
        + "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
        + '        word="${COMP_WORDS[i]}"\n'
        + "        if ((skip)); then skip=0; continue; fi\n"
        + '        if [[ $word == -* ]]; then [[ $value_options == *" $word "* ]] && skip=1; continue; fi\n'
        + '        if _batos_is_command "${cmd_path:+$cmd_path }$word"; then\n'
        + '            cmd_path="${cmd_path:+$cmd_path }$word"; positional=0\n'
        + "        else positional=$((positional + 1)); fi\n"
        + "    done\n"
        + '    if ((skip)); then COMPREPLY=($(compgen -f -- "$cur")); return; fi\n'
        + '    case "$cmd_path" in\n'
        + "\n".join(cases)
        + '\n        *) words=""; names=0 ;;\n    esac\n'
        + "    if [[ $cur != -* ]] && ((names && positional == 0)); then\n"
        + f'        COMPREPLY=($(compgen -W "$({NAMES_COMMAND} "$cur" 2>/dev/null)" -- "$cur"))\n'
        + "        return\n"
        + "    fi\n"
        + '    COMPREPLY=($(compgen -W "$words" -- "$cur"))\n'
        + "}\n\n"
        + "_batos_is_command() {\n"
        + '    case "$1" in\n'
        + "        "
        + "|".join(f'"{" ".join(s.path)}"' for s in specs if s.path)
        + ") return 0 ;;\n"
        + "    esac\n"
        + "    return 1\n"
        + "}\n\n"
        + "complete -o default -F _batos batos\n"
    )


# -- zsh -------------------------------------------------------------------------


def zsh_script(specs: Sequence[CommandSpec]) -> str:
    """A zsh completion function (`_batos`, for a directory on $fpath)."""
    cases = []
    for spec in specs:
        entries = [f"{name}:{_zsh_escape(_help_of(spec, name))}" for name in spec.subcommands]
        entries += [f"{n}:{_zsh_escape(o.help)}" for o in spec.options for n in o.names]
        quoted = " ".join(f"'{e}'" for e in entries)
        cases.append(
            f'        "{" ".join(spec.path)}") entries=({quoted}); names={int(spec.completes_names)} ;;'
        )
    return (
        "#compdef batos\n"
        + _HEADER.format(comment="#")
        + "_batos() {\n"
        + "    local cmd_path='' word i positional=0 skip=0 names=0\n"
        + "    local -a entries\n"
        + f"    local -a value_options=({' '.join(_value_options(specs))})\n"
        + "    local -a commands=("
        + " ".join(f"'{' '.join(s.path)}'" for s in specs if s.path)
        + ")\n"
        + "    for ((i = 2; i < CURRENT; i++)); do\n"
        + "        word=${words[i]}\n"
        + "        if ((skip)); then skip=0; continue; fi\n"
        + "        if [[ $word == -* ]]; then ((${value_options[(Ie)$word]})) && skip=1; continue; fi\n"
        + "        if ((${commands[(Ie)${cmd_path:+$cmd_path }$word]})); then\n"
        + '            cmd_path="${cmd_path:+$cmd_path }$word"; positional=0\n'
        + "        else positional=$((positional + 1)); fi\n"
        + "    done\n"
        + "    if ((skip)); then _files; return; fi\n"
        + '    case "$cmd_path" in\n'
        + "\n".join(cases)
        + "\n        *) entries=(); names=0 ;;\n    esac\n"
        + "    if [[ $PREFIX != -* ]] && ((names && positional == 0)); then\n"
        + f'        local -a found=(${{(f)"$({NAMES_COMMAND} "$PREFIX" 2>/dev/null)"}})\n'
        + "        compadd -a found\n"
        + "        return\n"
        + "    fi\n"
        + "    _describe 'batos' entries\n"
        + "}\n\n"
        + '_batos "$@"\n'
    )


def _zsh_escape(text: str) -> str:
    return text.replace("'", "").replace(":", "\\:")


def _help_of(spec: CommandSpec, sub: str) -> str:
    return _HELP.get((*spec.path, sub), "")


# -- fish ------------------------------------------------------------------------


def fish_script(specs: Sequence[CommandSpec]) -> str:
    """fish `complete` lines for `batos`."""
    lines = [_HEADER.format(comment="#").rstrip("\n"), "complete -c batos -f"]
    top = [s for s in specs if len(s.path) == 1]
    for spec in specs:
        condition = _fish_condition(spec, specs)
        for name in spec.subcommands:
            help_text = _fish_quote(_help_of(spec, name))
            lines.append(f"complete -c batos -n {_fish_quote(condition)} -a {name} -d {help_text}")
        for option in spec.options:
            flags = " ".join(f"-l {n[2:]}" if n.startswith("--") else f"-s {n[1:]}" for n in option.names)
            value = " -r" if option.takes_value else ""
            lines.append(
                f"complete -c batos -n {_fish_quote(condition)} {flags}{value} -d {_fish_quote(option.help)}"
            )
    naming = " ".join(s.path[0] for s in top if s.completes_names)
    if naming:
        lines.append(
            f"complete -c batos -n '__fish_seen_subcommand_from {naming}; and __batos_first_argument' "
            f"-a '({NAMES_COMMAND} (commandline -ct) 2>/dev/null)'"
        )
    lines += [
        "",
        "function __batos_first_argument",
        "    # True while no positional word follows the command yet.",
        "    set -l words (commandline -opc)",
        "    set -l after 0",
        "    for word in $words[2..-1]",
        "        if test $after -eq 1; and not string match -q -- '-*' $word",
        "            return 1",
        "        end",
        f"        if contains -- $word {naming}",
        "            set after 1",
        "        end",
        "    end",
        "    return 0",
        "end",
    ]
    return "\n".join(lines) + "\n"


def _fish_condition(spec: CommandSpec, specs: Sequence[CommandSpec]) -> str:
    if not spec.path:
        return "__fish_use_subcommand"
    parent = spec.path[-1]
    others = [s.path[-1] for s in specs if len(s.path) == len(spec.path) + 1 and s.path[:-1] == spec.path]
    condition = f"__fish_seen_subcommand_from {parent}"
    if others:
        condition += f"; and not __fish_seen_subcommand_from {' '.join(others)}"
    return condition


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_HEADER = (
    "{comment} batos shell completion, generated by `make completions` from the typer app; do not edit.\n"
)
_HELP: dict[tuple[str, ...], str] = {}


def generate(root: Any) -> dict[str, str]:
    """File name -> script text for the three shells."""
    specs = collect(root)
    _HELP.clear()
    _HELP.update({s.path: s.help for s in specs})
    return {"batos.bash": bash_script(specs), "_batos": zsh_script(specs), "batos.fish": fish_script(specs)}


def main(argv: Sequence[str] | None = None) -> int:
    """Write the scripts into the directory named by the first argument (default: completions)."""
    import typer.main

    from batos_cli.app import app

    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0] if args else "completions")
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in generate(typer.main.get_command(app)).items():
        (directory / name).write_text(text)
    from batos_cli.fastpath import HELP_FILE

    HELP_FILE.parent.mkdir(parents=True, exist_ok=True)
    HELP_FILE.write_text(render_top_help())
    return 0


def render_top_help() -> str:
    """`batos --help` as typer prints it at 80 columns (served pre-rendered by the fast path)."""
    import io
    import os
    from contextlib import redirect_stdout

    from batos_cli.app import app

    out = io.StringIO()
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    try:
        with redirect_stdout(out):
            try:
                app(args=["--help"], prog_name="batos", standalone_mode=False)
            except SystemExit:
                pass
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    return out.getvalue()


if __name__ == "__main__":
    sys.exit(main())
