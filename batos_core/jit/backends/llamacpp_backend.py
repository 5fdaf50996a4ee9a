"""The llama.cpp backend: a GGUF run by llama-cpp-python, the CPU default.

``model`` is a catalog name (its cached GGUF) or a ``.gguf`` path. The
model loads lazily (on the first ``generate`` or ``load``), once, under a
lock, and stays loaded; generations are serialised, since one llama.cpp
context serves one sequence at a time. ``llama_cpp`` is imported only when
loading, so building the backend (and the CLI) stays light.

Order of events in ``load``:

1. resolve the model (``ModelNotPulled`` for a catalog GGUF not pulled yet);
2. read and check the GGUF header (``gguf_header.validate``): not a GGUF,
   or truncated, is a ``BadModelFile`` before llama.cpp sees the file;
3. import llama_cpp (not installed: ``BackendError`` naming the extra) and
   route its C log into ``logging`` (``llamacpp_log``);
4. ``Llama(model_path, n_ctx, n_threads, verbose=False)``; a failure (an
   architecture llama.cpp does not know, a corrupt tensor) is a
   ``BadModelFile`` naming the file and llama.cpp's own error line;
5. compile the chat template from the GGUF's ``tokenizer.chat_template``
   with llama-cpp-python's Jinja2 formatter (none: ``BadModelFile``).

Every error message is one line. ``generate`` renders the chat (plus the
``prefill``, continued as a raw completion), evaluates the prompt in chunks
(a cancel is honoured between them) and samples token by token, stopping at
any end-of-generation token of the vocabulary (EOS, EOT, ``<|im_end|>``,
``<|eot_id|>``...) or at ``max_new_tokens``. The prompt prefix shared with
the previous call (the system turn and the task, across attempts and
candidates) is not evaluated again: llama-cpp-python keeps the evaluated
tokens and their KV cache, and both the chunked evaluation here and
``Llama.generate`` start after the longest common prefix. Nothing here
resets the context between calls.
"""

from __future__ import annotations

import codecs
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batos_core.jit.backends import llamacpp_log
from batos_core.jit.backends.base import (
    BackendError,
    BadModelFile,
    Generation,
    Message,
    Serving,
    TokenCallback,
    check_cancel,
)
from batos_core.models.cache import gguf_quantization, resolve_model
from batos_core.models.engine_plan import engine_name
from batos_core.models.gguf_header import BadGGUFFile, GGUFHeader, validate

log = logging.getLogger(__name__)

#: Context window: the UI prompt (about 700 tokens) plus its 1500 new tokens, with room.
DEFAULT_CONTEXT = 4096
#: Prompt tokens evaluated between two looks at ``cancel``.
PROMPT_CHUNK = 128
# Sampling above temperature 0: llama.cpp's defaults (top-p as the transformers backend).
_TOP_K, _TOP_P, _MIN_P = 40, 0.95, 0.05
# End-of-turn markers of common chat templates, stopped at even if a GGUF
# does not mark them as end-of-generation (llama.cpp usually does).
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "<end_of_turn>", "<|eom_id|>")


def engine_version() -> str:
    """``llama.cpp (llama-cpp-python X)``, read from the package metadata (nothing imported)."""
    return engine_name("llamacpp")


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads counted once).

    Reads the CPU topology from sysfs for the CPUs in the affinity mask;
    where that is unavailable, the number of usable logical CPUs.
    """
    try:
        usable = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in usable:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return max(1, len(usable))
        cores.add((package, core))
    return max(1, len(cores))


@dataclass
class LoadedLlama:
    """A loaded llama.cpp model, its chat formatter and how to recognise an end of turn."""

    llm: Any  # llama_cpp.Llama
    header: GGUFHeader
    format_chat: Callable[[list[Message]], str]
    is_end_of_turn: Callable[[int], bool]
    #: Whether the context can drop its tail and keep a prefix (not so for
    #: recurrent or hybrid models, whose state is not per token).
    keeps_prefix: bool = True


class LlamaCppBackend:
    """Generates with a GGUF loaded by llama-cpp-python; see the module docstring."""

    name = "llamacpp"

    def __init__(self, model: str, *, n_threads: int | None = None, n_ctx: int = DEFAULT_CONTEXT) -> None:
        self.model_id = model
        self.n_threads = n_threads or physical_cores()
        self.n_ctx = n_ctx
        self.load_seconds: float | None = None
        self._loaded: LoadedLlama | None = None
        # Read once here (the header only): status replies must not read files.
        self._quantization = gguf_quantization(model)
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._loaded is not None

    @property
    def runtime(self) -> Any:
        """The loaded ``llama_cpp.Llama`` (for benchmarks and diagnostics), or None."""
        return self._loaded.llm if self._loaded else None

    @property
    def serving(self) -> Serving:
        """The engine, the GGUF's quantization and the load time (None until loaded)."""
        return Serving(engine_version(), self._quantization, self.load_seconds)

    def load(self) -> None:
        """Load the model now (idempotent); see the module docstring for the order.

        Raises ``BadModelFile`` for a file llama.cpp cannot serve and
        ``BackendError`` when the model is unknown or not pulled, or
        llama-cpp-python is not installed.
        """
        with self._load_lock:
            if self._loaded is not None:
                return
            started = time.perf_counter()
            try:
                path = resolve_model(self.model_id)
            except LookupError as error:
                if self.model_id.endswith(".gguf"):
                    raise BadModelFile(self.model_id, "no such file") from error
                raise BackendError(f"cannot load model {self.model_id!r}: {error}") from error
            self._loaded = self._load(path)
            self._quantization = self._loaded.header.quantization
            self.load_seconds = time.perf_counter() - started
            log.info(
                "loaded %s (%s, %s) with %s on %d threads in %.1f s",
                self.model_id, path, self._quantization, engine_version(), self.n_threads, self.load_seconds,
            )  # fmt: skip

    def _load(self, path: str) -> LoadedLlama:
        try:
            header = validate(path)
        except BadGGUFFile as error:
            raise BadModelFile(error.path, error.problem) from error
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as error:
            raise BackendError(
                f"the llamacpp backend needs llama-cpp-python (pip install 'batos[llm]'): {error}"
            ) from error
        llamacpp_log.route_llama_log()
        llamacpp_log.clear_errors()
        try:
            llm = llama_cpp.Llama(
                model_path=path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise BadModelFile(path, _load_failure(header, error, llamacpp_log.recent_errors())) from error
        template = header.chat_template
        if template is None:
            llm.close()
            raise BadModelFile(path, "it has no chat template (tokenizer.chat_template)")
        eos, bos = llm.token_eos(), llm.token_bos()
        try:
            formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=llm.detokenize([eos], special=True).decode("utf-8", "replace") if eos >= 0 else "",
                bos_token=llm.detokenize([bos], special=True).decode("utf-8", "replace") if bos >= 0 else "",
                add_generation_prompt=True,
            )
        except Exception as error:  # jinja2's TemplateSyntaxError and kin
            llm.close()
            raise BadModelFile(path, f"its chat template does not compile: {_one_line(error)}") from error

        def format_chat(messages: list[Message]) -> str:
            return str(formatter(messages=messages).prompt)  # type: ignore[arg-type]

        model = llm.model
        recurrent = llama_cpp.llama_model_is_recurrent(model) or llama_cpp.llama_model_is_hybrid(model)
        return LoadedLlama(llm, header, format_chat, _end_of_turn_test(llama_cpp, llm), not recurrent)

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
        selector: str | None = None,
        prefill: str = "",
        seed: int | None = None,
    ) -> Generation:
        """Generate one reply from the GGUF's chat template; loads the model first if needed.

        The reply is ``prefill`` plus the new text (the prefill goes out
        through ``on_token`` first). Greedy at ``temperature == 0``; above,
        top-k/top-p/min-p sampling seeded with ``seed`` (None: a fresh one).
        Raises ``GenerationCancelled`` when ``cancel`` is set (checked between
        prompt chunks and between tokens) and ``BackendError`` when loading
        fails, the prompt does not fit the context, or llama.cpp fails.
        """
        started = time.perf_counter()
        self.load()
        loaded = self._loaded
        assert loaded is not None
        with self._generate_lock:
            check_cancel(cancel, "")
            llamacpp_log.clear_errors()
            try:
                prompt = loaded.format_chat([dict(m) for m in messages]) + prefill
            except Exception as error:  # the template's raise_exception, jinja2 errors
                raise BackendError(f"the chat template failed: {_one_line(error)}") from error
            if prefill and on_token is not None:
                on_token(prefill)  # the reply's first part, so a live view shows all of it
            try:
                text, tokens, capped = self._sample(
                    loaded, prompt, max_new_tokens, temperature, seed, on_token, cancel, prefill
                )
            except (RuntimeError, ValueError) as error:
                raise BackendError(f"generation failed: {_with_log(error)}") from error
        return Generation(
            prefill + text,
            tokens,
            time.perf_counter() - started,
            self.model_id,
            self.name,
            stopped_at_cap=capped,
        )

    def _sample(
        self,
        loaded: LoadedLlama,
        prompt: str,
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
        prefill: str,
    ) -> tuple[str, int, bool]:
        """(new text, new tokens, whether the cap ended it); the caller holds the lock."""
        llm = loaded.llm
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        room = self.n_ctx - len(tokens)
        if room <= 0:
            raise BackendError(f"the prompt has {len(tokens)} tokens, the context only {self.n_ctx}")
        limit = min(max_new_tokens, room)
        _evaluate_prompt(loaded, tokens, cancel, prefill)
        llm.set_seed(seed if seed is not None else random.randrange(2**31))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text, count = "", 0
        stream = llm.generate(
            tokens, temp=max(temperature, 0.0), top_k=_TOP_K, top_p=_TOP_P, min_p=_MIN_P, repeat_penalty=1.0
        )
        try:
            for token in stream:
                if loaded.is_end_of_turn(token):
                    return text + decoder.decode(b"", final=True), count, False
                count += 1
                piece = decoder.decode(llm.detokenize([token]))
                if piece:
                    text += piece
                    if on_token is not None:
                        on_token(piece)
                check_cancel(cancel, prefill + text)
                if count >= limit:
                    break
        finally:
            stream.close()
        return text + decoder.decode(b"", final=True), count, count >= limit


def _evaluate_prompt(
    loaded: LoadedLlama, tokens: list[int], cancel: threading.Event | None, prefill: str
) -> None:
    """Evaluate all but the last prompt token in chunks, after the cached prefix.

    What is already in the context (``llm.input_ids[:llm.n_tokens]``) and
    equal to the prompt's start is kept; the rest is evaluated
    ``PROMPT_CHUNK`` tokens at a time with a look at ``cancel`` in between.
    ``Llama.generate`` then finds all but the last token cached and starts
    from there, as it would have after its own (uninterruptible) evaluation.
    A recurrent model cannot drop a tail: it starts over instead.
    """
    llm = loaded.llm
    head = tokens[:-1]
    cached = llm.input_ids[: llm.n_tokens].tolist()
    common = llm.longest_token_prefix(cached, head)
    if common < llm.n_tokens and not loaded.keeps_prefix:
        llm.reset()
        common = 0
    elif common < llm.n_tokens:
        llm.n_tokens = common  # eval() drops the KV cache past this point
    for start in range(common, len(head), PROMPT_CHUNK):
        check_cancel(cancel, prefill)
        llm.eval(head[start : start + PROMPT_CHUNK])


def _end_of_turn_test(llama_cpp: Any, llm: Any) -> Callable[[int], bool]:
    """A test for the tokens that end a reply: the vocabulary's end-of-generation
    tokens (EOS, EOT and the end-of-turn markers llama.cpp recognises) and any
    single-token ``_END_OF_TURN`` marker of this vocabulary."""
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    extra = set()
    for marker in _END_OF_TURN:
        ids = llm.tokenize(marker.encode("utf-8"), add_bos=False, special=True)
        if len(ids) == 1:
            extra.add(ids[0])
    eos = llm.token_eos()
    if eos >= 0:
        extra.add(eos)

    def is_end_of_turn(token: int) -> bool:
        return token in extra or bool(llama_cpp.llama_vocab_is_eog(vocab, token))

    return is_end_of_turn


def _load_failure(header: GGUFHeader, error: Exception, errors: list[str]) -> str:
    """One line saying why llama.cpp could not load the file, from its own error log."""
    detail = next((line for line in reversed(errors) if "error loading model" in line), "")
    detail = detail or (errors[-1] if errors else str(error))
    if "unknown model architecture" in detail:
        return f"{engine_version()} does not support its architecture {header.architecture!r}"
    cause = detail.split("error loading model:", 1)[-1].strip()
    return f"llama.cpp cannot load it: {_one_line(cause)}"


def _with_log(error: Exception) -> str:
    """The error, and llama.cpp's last error line if it logged one."""
    errors = llamacpp_log.recent_errors()
    return _one_line(error) + (f" ({_one_line(errors[-1])})" if errors else "")


def _one_line(error: object) -> str:
    return " ".join(str(error).split())
