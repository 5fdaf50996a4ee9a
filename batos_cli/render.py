"""Everything the CLI shows a person. The only module that writes to the terminal."""

from __future__ import annotations

import json
from typing import Any

from batos_cli.env import Environment
from batos_core.settings import NO_BACKEND


def value_text(value: Any) -> str:
    """A wire value as a person reads it: objects by their printString, text plainly."""
    if isinstance(value, dict):
        if "$ref" in value:
            return str(value.get("repr") or value["$ref"])
        if "$repr" in value:
            return str(value["$repr"])
        inner = value.get("$dict", value)
        return "{" + ", ".join(f"{k!r}: {value_text(v)}" for k, v in inner.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) if not isinstance(v, str) else repr(v) for v in value) + "]"
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def candidates_text(provenance: dict[str, Any]) -> str:
    """How a method was chosen among candidates, briefly (docs/jit.md, "Candidates").

    An install: ``#2/4 groups 1+3``, with ``checks 3/3`` when checks were
    written and ``early`` when a majority stopped the round. A rejection:
    ``4 failed``. "" when the record has none (older records, hand-written methods).
    """
    record = provenance.get("candidates")
    if isinstance(record, list):
        return f"{len(record)} failed" if record else ""
    if not isinstance(record, dict):
        return ""
    groups = "+".join(str(size) for size in record.get("groups") or []) or "-"
    text = f"#{record.get('winner', '?')}/{record.get('k', '?')} groups {groups}"
    if record.get("checks"):
        text += f" checks {record.get('checks_passed', 0)}/{record['checks']}"
    if record.get("early_stop"):
        text += " early"
    return text


def provenance_value(provenance: dict[str, Any], key: str) -> str:
    """One provenance entry as text; the candidates record in its brief form."""
    if key == "candidates":
        return candidates_text(provenance)
    return value_text(provenance[key])


def print_value(env: Environment, value: Any) -> None:
    env.out.print(value_text(value), markup=False, highlight=False)


def print_json(env: Environment, data: Any) -> None:
    env.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    return repr(value)


def print_error(env: Environment, message: str, hint: str = "") -> None:
    env.err.print(f"[bold red]error:[/bold red] {_escape(message)}", markup=True, highlight=False)
    if hint:
        env.err.print(f"[dim]{_escape(hint)}[/dim]", markup=True, highlight=False)


def print_traceback(env: Environment, text: str) -> None:
    if text:
        env.err.print(text.rstrip(), markup=False, highlight=False, style="dim")


def print_inspect(env: Environment, reply: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{reply['oid']}  {reply['repr']}", title_justify="left", expand=False)
    table.add_column("slot")
    table.add_column("kind")
    table.add_column("value")
    for slot in reply["slots"]:
        name = slot["name"] + (" (constant)" if slot["is_constant"] else "")
        table.add_row(name, slot["kind"], value_text(slot["value"]))
    env.out.print(table)
    if reply["methods"]:
        methods = Table(title="methods", title_justify="left")
        methods.add_column("selector")
        methods.add_column("version", justify="right")
        methods.add_column("provenance")
        for m in reply["methods"]:
            prov = m["provenance"] if isinstance(m["provenance"], dict) else {}
            shown = ", ".join(f"{k}={provenance_value(prov, k)}" for k in sorted(prov) if k != "prompt")
            version = f"{m['version']} (suspended)" if m.get("suspended") else str(m["version"])
            methods.add_row(m["selector"], version, shown)
        env.out.print(methods)


def print_status(env: Environment, reply: dict[str, Any]) -> None:
    stand_ins = int(reply.get("stand_ins", 0))  # older daemons do not send it
    waiting = f" (+{stand_ins} standing in for review waits)" if stand_ins else ""
    env.out.print(
        f"daemon pid {reply['pid']} serving {reply['image']}\n"
        f"  incarnation {reply['incarnation']}, up {reply['uptime_s']:.1f} s, "
        f"{reply['workers']} workers{waiting}, {reply['queue_depth']} queued\n"
        f"  JIT backend: {reply['backend'] or NO_BACKEND}"
        + (f" ({reply['model']})" if reply["model"] else "")
        + _serving_text(reply)
        + _world_text(reply),
        markup=False,
        highlight=False,
    )


#: A daemon whose last beat is older than this is shown as silent (world.registry.SILENT_AFTER_S).
_SILENT_AFTER_S = 15.0


def _world_text(reply: dict[str, Any]) -> str:
    """The daemons of a shared world, one line each (older daemons send none)."""
    daemons = reply.get("daemons") or []
    if not daemons:
        return ""
    lines = [f"\n  {reply.get('storage', '')} world served by {len(daemons)} daemon(s):"]
    for entry in daemons:
        instance = f" instance {entry['instance']}" if entry.get("instance") else ""
        silent = float(entry.get("silent_s", 0.0))
        health = f"silent for {silent:.0f} s" if silent > _SILENT_AFTER_S else f"beat {silent:.0f} s ago"
        this = " (this one)" if entry.get("self") else ""
        lines.append(
            f"    {entry.get('host')} pid {entry.get('pid')}{instance}, "
            f"incarnation {entry.get('incarnation')}, {health}{this}"
        )
    return "\n".join(lines)


def _serving_text(reply: dict[str, Any]) -> str:
    """`` on ENGINE, QUANTIZATION`` where the daemon says (older daemons do not)."""
    engine, quantization = reply.get("engine") or "", reply.get("quantization") or ""
    if not engine:
        return ""
    return f" on {engine}" + (f", {quantization}" if quantization else "")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_source(env: Environment, reply: dict[str, Any], *, python: bool = False) -> None:
    """A `source_reply`: a header, the provenance, then the source highlighted.

    A method written in Self shows its Self source (the compiled Python with
    `python`); any other method its Python source.
    """
    from rich.syntax import Syntax

    prov = reply["provenance"] if isinstance(reply["provenance"], dict) else {}
    self_text = prov.get("self_source") if prov.get("language") == "self" else None
    env.out.print(f"# {reply['target']} {reply['selector']} v{reply['version']}", markup=False)
    for key in sorted(prov):
        if key in ("prompt", "self_source"):  # too long to show / shown below as the source
            continue
        env.out.print(f"#   {key}: {provenance_value(prov, key)}", markup=False, highlight=False)
    if isinstance(self_text, str) and not python:
        env.out.print(Syntax(self_text.rstrip(), "smalltalk", theme="ansi_dark", background_color="default"))
        hint = f"batos source {reply['target']} {reply['selector']} --python"
        env.out.print(f"# written in Self; the Python it was compiled to: {hint}", markup=False)
        return
    env.out.print(Syntax(reply["source"].rstrip(), "python", theme="ansi_dark", background_color="default"))
