"""Chat prompts for doesNotUnderstand: (see shared/FINDINGS.md for why they read so).

What the measurements taught, and where it shows here:

* Small models wrote ``*args`` for one-argument selectors: the prompt states
  the exact header, one parameter per keyword part, with each argument's type
  and an example value.
* A parameter named after the selector (``def reversed_(self, reversed_)``)
  made the 0.5B coder return it unchanged, and "this time 7" made it
  special-case the value (``if n == 7``): the header shown names the first
  parameter, and connective keywords (``with:``), by the argument's type
  (vetting checks the arity, not the names), the value is an example, and the
  task says the name tells what to compute (docs/jit.md: 0/8 -> 7/10).
* They printed instead of returning: the prompt says the method returns its
  result, and that an action returns the receiver.
* They copy prompt wording into code: apart from the header to write, the text
  holds no code (no example expressions, no f-strings).
* Greedy repair repeats itself: the repair prompt quotes the failure exactly
  and, from the second retry on, asks for a different approach. It never shows
  an expected value (the model copies it into a constant return).

Messages are plain ``{"role", "content"}`` dicts, ready for a chat template.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from batos_core.jit.errors import ExtractionError, VetError
from batos_core.jit.signature import MethodSignature, signature_for
from batos_core.jit.snapshot import ReceiverSnapshot, short_repr, type_name
from batos_core.jit.trial import TrialResult
from batos_core.jit.vet import DEFAULT_IMPORTS, UI_NAMES, VetPolicy
from batos_core.ui_contract import (
    BRIDGE_NAME,
    GET_FULL_STATE,
    ON_EVENT,
    SEND,
    UI_CLASS_NAME,
    UI_SELECTOR,
    UI_TARGET,
    UI_WINDOW_TITLE,
)

Message = dict[str, str]
Failure = VetError | ExtractionError | TrialResult

_MAX_LISTED_METHODS = 40
# Parameter names by argument type, for the header the prompt shows.
_TYPE_PARAMETERS = {
    "int": "n",
    "float": "x",
    "str": "text",
    "list": "items",
    "dict": "mapping",
    "bool": "flag",
}
# Keyword parts that name no value (``gcd:with:``): their parameter is named by type too.
_CONNECTIVES = frozenset({"with", "and", "to", "by", "from", "of", "in", "at", "on", "put", "for", "or"})
_MAX_LISTED_SLOTS = 30

_SYSTEM = """\
You write one Python method for batos, a live object system in which objects \
receive messages. An object received a message it does not understand; you \
write the method that handles it.

Rules:
1. Reply with a single Python code block that holds exactly one function \
definition, with the header given below copied exactly: same name, same \
parameters, nothing added.
2. The method must return its result with a return statement. Never print the \
result instead of returning it. When the message asks a question or names \
something to compute (a number, a text, a list, a dict, true or false), return \
that value. Only a message that tells the receiver to change its own slots, and \
names no value to give back, returns self, after making the change.
3. The receiver is self. Read and write its slots as plain attributes of self. \
Writing a slot saves it automatically; no persistence flag is needed.
4. Never use a name or attribute that starts with an underscore; such names \
are reserved (this includes persistence flags such as _p_changed).
5. You may import only these modules, inside the function: {imports}. No file, \
network, process or system access, and no eval or exec.
6. No explanations before or after the code block."""

_UI_SYSTEM = """\
You write the user interface of batos, a live object system, as one Python \
function that builds a Kivy application. Reply with a single Python code block \
and no explanations.

Requirements:
1. Exactly one top-level function with the header {header}, copied exactly. \
Put every import inside the function; only modules from these may be \
imported: kivy and its submodules, {imports}.
2. Inside the function define a complete Kivy App subclass named {cls} whose \
build method returns the root widget and which sets the window title to \
"{title}".
3. The function returns the class {cls} itself. It must not create an \
instance and must not start the application.
4. The interface talks to the system only through the object named {bridge}, \
which already exists as a global name and, inside the App's methods, as \
self.{bridge} (do not import or create it). Its \
methods: {bridge}.{state}(target, callback) asks for the state of the \
object named by the string target and later calls callback with one argument, \
a dict of slot names to values; {bridge}.{send}(text, callback) sends one message \
in the system's message syntax and later calls callback with the reply text; \
{bridge}.{events}(callback) registers callback to be called with each event \
dict the system pushes. Callbacks arrive on the Kivy main thread.
5. Show at least: a status label with the state of the object {target}, a text \
input where the user types a message, a button that sends it through \
{bridge}.{send}, and a scrolling area listing replies and events. Wire them in \
build: call {bridge}.{state}("{target}", show_state) with a function \
show_state(state) that sets the status label's text to one line per item of \
the dict, the slot name, a colon and its value; the \
button's on_press calls {bridge}.{send} with the text input's text and a function \
show_reply(reply) that adds a Label with the reply to the list. A ScrollView \
holds exactly one child and takes no content argument: make a vertical \
BoxLayout with size_hint_y None, put it in with the ScrollView's add_widget, \
and add the reply labels to that BoxLayout. build returns the outermost \
layout, which has no parent. After the class, the \
function ends by returning the class itself.
6. Never use a name or attribute that starts with an underscore, except \
calling the parent initialiser through super in a widget subclass."""


def method_messages(
    selector: str,
    receiver: ReceiverSnapshot,
    args: Sequence[object] | None = None,
    *,
    intent: str | None = None,
    policy: VetPolicy | None = None,
) -> list[Message]:
    """The chat messages asking for the method ``selector`` of ``receiver``.

    ``args`` are the values the message was sent with; ``None`` when unknown
    (the autotelic loop proposes a selector with a one-line ``intent``).
    Raises ValueError for a selector that cannot name a method, or when the
    number of ``args`` does not match the selector's arity.
    """
    signature = signature_for(selector)
    if args is not None and len(args) != signature.arity:
        raise ValueError(f"{signature.self_form} takes {signature.arity} arguments, got {len(args)}")
    policy = policy or VetPolicy.default()
    system = _SYSTEM.format(imports=_import_list(policy))
    user = "\n\n".join(
        part
        for part in (
            _task_section(signature, receiver),
            _header_section(signature, args),
            _slots_section(receiver),
            _methods_section(receiver, signature.selector),
            _intent_section(intent),
        )
        if part
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def ui_messages(receiver: ReceiverSnapshot, *, intent: str | None = None) -> list[Message]:
    """The chat messages asking for ``display_yourself``: the Kivy UI as one function.

    Vet its answer with ``VetPolicy.ui()``. Never raises.
    """
    signature = signature_for(UI_SELECTOR)
    imports = ", ".join(sorted(DEFAULT_IMPORTS))
    system = _UI_SYSTEM.format(
        header=signature.header(),
        imports=imports,
        cls=UI_CLASS_NAME,
        title=UI_WINDOW_TITLE,
        bridge=BRIDGE_NAME,
        state=GET_FULL_STATE,
        send=SEND,
        events=ON_EVENT,
        target=UI_TARGET,
    )
    user = "\n\n".join(
        part
        for part in (
            f"The object {receiver.name} received the message {UI_SELECTOR}. "
            "Write the function that returns its user interface.",
            f"The header to write, exactly:\n{signature.header()}",
            _ui_slots_section(receiver),
            _intent_section(intent),
        )
        if part
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _ui_slots_section(receiver: ReceiverSnapshot) -> str:
    """The receiver's slots as the UI prompt states them.

    Kept apart from the method prompt's wording (``_slots_section``), which is
    tuned on the intent suites: the UI prompt's text was measured with the
    demo (docs/jit.md), and a one-line change in it moved the 1.5B coder's
    greedy UI from passing its trial to failing it.
    """
    lines: list[str] = []
    for name, value in list(receiver.data_slots.items())[:_MAX_LISTED_SLOTS]:
        lines.append(f"- {name}: data slot, a {type_name(value)}, now {short_repr(value)}")
    for name, description in list(receiver.parent_slots.items())[:_MAX_LISTED_SLOTS]:
        lines.append(f"- {name}: parent slot, {description}")
    if not receiver.data_slots:
        lines.insert(0, "The receiver has no data slots: work from the parameters alone.")
        return "\n".join(lines)
    return "The receiver's slots, all of them (it has no other data):\n" + "\n".join(lines)


def ui_prefill() -> str:
    """How the reply to ``ui_messages`` starts: the code fence, the header, the
    Kivy imports, the App class with its title, ``def build(self):``, the
    status label, and the header of the state callback ``show_state(state)``.

    The model writes the callback's body, the rest of ``build`` and everything
    after it. Small models asked for the whole function repeated the import
    block until the token limit (Qwen2.5-Coder-0.5B, docs/jit.md); starting
    the reply past the imports removes that loop. The status label and the
    callback's header are the structure rule 5 asks for: the 1.5B coder's
    commonest trial failures were a state callback of another name or arity
    than the one it passed, and none at all (docs/jit.md, "display_yourself
    on the 1.5B"). Backends that cannot continue a partial reply ignore it.
    """
    imports = "\n".join(
        f"    from {UI_NAMES[name]} import {name}"
        for name in ("App", "BoxLayout", "Button", "Label", "ScrollView", "TextInput")
    )
    return (
        f"```python\n{signature_for(UI_SELECTOR).header()}\n{imports}\n\n"
        f"    class {UI_CLASS_NAME}(App):\n"
        f'        title = "{UI_WINDOW_TITLE}"\n\n'
        "        def build(self):\n"
        '            status_label = Label(text="")\n\n'
        "            def show_state(state):\n"
    )


def repair_messages(
    messages: Sequence[Message],
    previous_code: str,
    failure: Failure,
    *,
    attempt: int = 1,
) -> list[Message]:
    """``messages`` plus the failed answer and a request to fix the named failure.

    ``attempt`` counts repairs (1 for the first); later attempts ask for a
    different approach, since a model re-asked the same way repeats itself.
    The failure text comes from vetting, extraction or the trial and never
    holds an expected value. Never raises.
    """
    request = [
        f"That method failed. {describe_failure(failure)}",
        "Write the corrected method. Keep the same header, exactly.",
    ]
    if attempt >= 2:
        request.append(
            "Do not repeat the previous code: think again about what the message "
            "means and take a different approach."
        )
    return [
        *messages,
        {"role": "assistant", "content": f"```python\n{previous_code.rstrip()}\n```"},
        {"role": "user", "content": "\n".join(request)},
    ]


def describe_failure(failure: Failure) -> str:
    """The failure as the model should read it: the vet reason or the trial's error."""
    if isinstance(failure, VetError):
        return f"It was rejected before running, at {failure}."
    if isinstance(failure, ExtractionError):
        return f"No code could be read from the reply: {failure.reason}."
    if failure.error_name == "PrintedInsteadOfReturning":
        return (
            "When run, it printed output and returned None. It must return its result instead of printing it."
        )
    text = f"When run, it raised {failure.error_name}: {failure.error_message}"
    if failure.traceback:
        text += f"\nTraceback (last frames):\n{failure.traceback.rstrip()}"
    return text


def prompt_hash(messages: Sequence[Message], prefill: str = "") -> str:
    """The sha256 hex digest of ``messages`` as canonical JSON (sorted keys, no
    spaces); a ``prefill`` counts as a final, partial assistant message."""
    hashed = [*messages, {"role": "assistant", "content": prefill}] if prefill else list(messages)
    canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _import_list(policy: VetPolicy) -> str:
    return ", ".join(sorted(m.removesuffix(".*") for m in policy.allowed_imports))


def _task_section(signature: MethodSignature, receiver: ReceiverSnapshot) -> str:
    if signature.arity == 0:
        sent = "with no arguments"
    else:
        sent = f"with {signature.arity} argument{'s' if signature.arity > 1 else ''}"
    return (
        f"The object {receiver.name} received the message {signature.self_form} {sent} "
        f"and does not understand it. Its Python method name is {signature.selector}. "
        "Its name says what it asks for: do exactly that with the parameters and return the answer. "
        # The 1.5B coder's factorial recursed as a plain function call, which
        # passes the argument as self (docs/jit.md, "What the prompt fixed").
        "It is a method of the receiver: to use it again inside itself, call it as a method of "
        "self, never as a plain function."
    )


def _header_section(signature: MethodSignature, args: Sequence[object] | None) -> str:
    names = _parameter_names(signature, args)
    header = f"def {signature.selector}({', '.join(('self', *names))}):"
    lines = [f"The header to write, exactly:\n{header}"]
    if signature.arity == 0:
        lines.append("The method takes no arguments besides self.")
        return "\n".join(lines)
    lines.append("Its parameters, one per keyword of the message:")
    for index, name in enumerate(names):
        if args is None:
            lines.append(f"- {name}: value not known in advance")
        else:
            value = args[index]
            lines.append(f"- {name}: a {type_name(value)}, for example {short_repr(value)}")
    if args is not None:
        lines.append("The method must work for any values of these types, not only the examples.")
    return "\n".join(lines)


def _parameter_names(signature: MethodSignature, args: Sequence[object] | None) -> list[str]:
    """The signature's names, except the first and connective ones named by the argument's type."""
    names: list[str] = []
    for index, name in enumerate(signature.parameters):
        if args is not None and (index == 0 or name.rstrip("_") in _CONNECTIVES):
            name = _TYPE_PARAMETERS.get(type_name(args[index]), "value")
        candidate, suffix = name, 2
        while candidate in names or candidate in signature.parameters[index + 1 :]:
            candidate, suffix = f"{name}{suffix}", suffix + 1
        names.append(candidate)
    return names


def _slots_section(receiver: ReceiverSnapshot) -> str:
    if receiver.value_receiver:
        kind = type_name(receiver.value)
        return f"self is a Python {kind}, here {short_repr(receiver.value)}; the method serves every {kind}."
    lines: list[str] = []
    for name, value in list(receiver.data_slots.items())[:_MAX_LISTED_SLOTS]:
        lines.append(f"- {name}: data slot, a {type_name(value)}, now {short_repr(value)}")
    for name, description in list(receiver.parent_slots.items())[:_MAX_LISTED_SLOTS]:
        lines.append(f"- {name}: parent slot, {description}")
    if not lines:
        return "The receiver has no data slots."
    return "The receiver's slots:\n" + "\n".join(lines)


def _methods_section(receiver: ReceiverSnapshot, selector: str) -> str:
    names = sorted(name for name in receiver.methods if name != selector)
    if not names:
        return ""
    shown = names[:_MAX_LISTED_METHODS]
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    text = "Methods the receiver already understands (callable on self): " + ", ".join(shown) + more + "."
    written = [f"{name} ({receiver.self_methods[name]})" for name in shown if name in receiver.self_methods]
    if written:
        text += " Written in Self, called from Python as ordinary methods: " + ", ".join(written) + "."
    return text


def _intent_section(intent: str | None) -> str:
    if not intent or not intent.strip():
        return ""
    return f"What the method is meant to do: {' '.join(intent.split())}"


# -- checks for choosing among candidates (batos_core.jit.candidates) --------
#
# A separate, short prompt: the model writes a few assert lines about the
# triggering call. Their expected values never reach the method prompt or a
# repair prompt (shared/FINDINGS.md: a model copies them into a constant return).

CHECK_RESULT_NAME = "result"

_CHECKS_SYSTEM = """\
You write tests for one Python method of batos, a live object system in which \
objects receive messages. Reply with a single Python code block that holds only \
assert statements, one per line, at most {count}. No imports, no function \
definitions, no explanations."""


def check_parameter_names(selector: str, args: Sequence[object]) -> list[str]:
    """The names a check sees for the call's arguments: the header's parameter names.

    Raises ValueError for a selector that cannot name a method.
    """
    names = _parameter_names(signature_for(selector), args)
    return [f"{name}_" if name in (CHECK_RESULT_NAME, "self") else name for name in names]


def check_messages(
    selector: str, receiver: ReceiverSnapshot, args: Sequence[object], *, count: int = 3
) -> list[Message]:
    """The chat messages asking for up to ``count`` assert lines about the call
    ``result = self.<selector>(*args)``: ``result`` is what it returned, ``self``
    the receiver after it, the parameters keep the values the message was sent
    with (shown here, unlike in the method prompt, where they are examples).

    Raises ValueError for a selector that cannot name a method or a wrong
    number of ``args``.
    """
    signature = signature_for(selector)
    if len(args) != signature.arity:
        raise ValueError(f"{signature.self_form} takes {signature.arity} arguments, got {len(args)}")
    names = check_parameter_names(selector, args)
    call = f"{CHECK_RESULT_NAME} = self.{signature.selector}({', '.join(names)})"
    lines = [
        f"The object {receiver.name} received the message {signature.self_form}. Its Python method "
        f"{signature.selector} does what its name says. It was just called as:\n{call}"
    ]
    if names:
        lines.append(
            "with these values:\n"
            + "\n".join(f"- {name} = {short_repr(value)}" for name, value in zip(names, args, strict=True))
        )
    slots = _slots_section(receiver)
    lines.append(slots.replace("The receiver's slots:", "The receiver's slots before the call:"))
    lines.append(
        f"Write at most {count} assert statements that must be true right after that call if the "
        f"method is right. In them, {CHECK_RESULT_NAME} is the value the call returned, self is the "
        "receiver after the call, and the parameters keep the values above. Check the returned value "
        "and any slot the message should change. Use no other names."
    )
    return [
        {"role": "system", "content": _CHECKS_SYSTEM.format(count=count)},
        {"role": "user", "content": "\n\n".join(lines)},
    ]
