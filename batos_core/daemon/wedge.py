"""Which method wedged a daemon, from what its supervisor saw (standard library only).

After the event loop stopped beating, the supervisor (`supervisor`) has:

* a faulthandler dump of every thread (``Thread 0x... (most recent call
  first):`` and ``  File "...", line N in NAME`` lines; written by the
  daemon's C signal handler for SIGUSR1, which needs no GIL);
* the vitals file's worker slots (`vitals.WorkerRecord`): which request each
  worker thread was running;
* each thread's CPU time over the moments around the dump (``/proc``).

`find_culprit` joins them: the busy worker whose thread gained the most CPU
time (the one holding the GIL in C code; the others wait for it), else the
earliest started. Its innermost frame whose file is ``<method SELECTOR>``
(how `batos_core.objects.method` compiles methods) names the method; with no
such frame, the request's own selector does (``<trusted method SELECTOR>``,
a method installed to run unrestricted, counts too). The `WedgeReport` goes to a
file the restarted daemon applies before it serves (`suspension`).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batos_core.daemon.vitals import WorkerRecord

#: How `batos_core.objects.method` names a method's code: ``<method SELECTOR>``,
#: with a qualifier for some (``<trusted method SELECTOR>``).
_METHOD_FILE_RE = re.compile(r"^<(?:[a-z]+ )?method (?P<selector>[^<>\s]+)>$")
_THREAD_RE = re.compile(r"^(Current thread|Thread) (0x[0-9a-fA-F]+) \(most recent call first\):")
_FRAME_RE = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d+|\?\?\?) in (?P<name>.*)$')


class BadWedgeReport(ValueError):
    """A wedge report file that is not a report (unreadable JSON or fields)."""


@dataclass(frozen=True)
class Frame:
    filename: str
    lineno: int
    name: str

    @property
    def method_selector(self) -> str | None:
        """The selector if this frame runs a batos Method, else None."""
        found = _METHOD_FILE_RE.match(self.filename)
        return found.group("selector") if found is not None else None

    def __str__(self) -> str:
        return f'File "{self.filename}", line {self.lineno} in {self.name}'


@dataclass
class ThreadStack:
    """One thread of a dump; `frames` innermost first, as faulthandler writes them."""

    ident: int
    frames: list[Frame] = field(default_factory=list)

    def innermost_method(self) -> Frame | None:
        return next((f for f in self.frames if f.method_selector is not None), None)


def parse_dump(text: str) -> list[ThreadStack]:
    """The threads of a faulthandler dump (lines it does not know are skipped)."""
    threads: list[ThreadStack] = []
    for line in text.splitlines():
        head = _THREAD_RE.match(line)
        if head is not None:
            threads.append(ThreadStack(int(head.group(2), 16)))
            continue
        frame = _FRAME_RE.match(line)
        if frame is not None and threads:
            lineno = frame.group("line")
            threads[-1].frames.append(
                Frame(frame.group("file"), int(lineno) if lineno.isdigit() else 0, frame.group("name"))
            )
    return threads


@dataclass(frozen=True)
class WedgeReport:
    """What the supervisor found: the request that wedged the daemon and the
    method it ran (``method_selector``, a Python name; "" if no method frame)."""

    pid: int
    time: float  # wall clock when the wedge was detected
    silent_s: float  # how long the loop had not beaten
    request_id: str
    kind: str
    receiver: str
    request_selector: str
    method_selector: str
    stack: list[str] = field(default_factory=list)  # the thread's frames, innermost first

    @property
    def selectors(self) -> list[str]:
        """Selectors to look up from the receiver, most specific first."""
        found = [self.method_selector, self.request_selector.replace(":", "_")]
        return [s for i, s in enumerate(found) if s and s not in found[:i]]

    def write(self, path: Path) -> None:
        """Write the report as JSON (atomically: a temporary file renamed over `path`)."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1) + "\n")
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> WedgeReport:
        """Read a report written by `write`; raises OSError, BadWedgeReport."""
        try:
            data: Any = json.loads(path.read_text())
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise BadWedgeReport(f"{path}: not a wedge report: {exc}") from None


def find_culprit(
    threads: list[ThreadStack],
    workers: list[WorkerRecord],
    cpu_gained: dict[int, int],
    *,
    pid: int,
    time: float,
    silent_s: float,
) -> WedgeReport | None:
    """The report for the request that most likely wedged the daemon, or None
    when no worker was running a request (the wedge is not a method's).

    `cpu_gained` maps native thread ids to CPU ticks gained around the dump.
    """
    busy = [w for w in workers if w.busy and w.request_id]
    if not busy:
        return None
    stacks = {t.ident: t for t in threads}
    in_methods = [w for w in busy if (s := stacks.get(w.ident)) is not None and s.innermost_method()]
    candidates = in_methods or busy
    worker = max(candidates, key=lambda w: (cpu_gained.get(w.native_id, 0), -w.started_ns))
    stack = stacks.get(worker.ident)
    frame = stack.innermost_method() if stack is not None else None
    return WedgeReport(
        pid=pid,
        time=time,
        silent_s=round(silent_s, 3),
        request_id=worker.request_id,
        kind=worker.kind,
        receiver=worker.receiver,
        request_selector=worker.selector,
        method_selector=(frame.method_selector or "") if frame is not None else "",
        stack=[str(f) for f in stack.frames] if stack is not None else [],
    )
