"""Tiny real models for the backend tests, built offline at test time.

A byte-level BPE tokenizer trained on a few lines, a chat template, and a
random two-layer Llama: small enough to build and run in a second, real
enough to go through the actual Transformers loading and generation code.
The same model is also written as a GGUF file (float32 tensors, Q/K rows
permuted the way llama.cpp's converter does), so converting it back must
reproduce the directory model exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = [
    "def factorial_(self, n):",
    "    return 1 if n < 2 else n * self.factorial_(n - 1)",
    "Write one Python method for a batos object.",
    "the quick brown fox jumps over the lazy dog",
] * 4
# GGUF tensor names of the Llama parts (llama.cpp's naming).
_GGUF_TOP = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_GGUF_LAYER = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


@dataclass(frozen=True)
class TinyModel:
    """A saved tiny model: its directory, its GGUF twin, and the live objects."""

    directory: Path
    gguf: Path
    model: Any
    tokenizer: Any


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS, trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=bpe,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _model(
    tokenizer: Any,
    *,
    hidden: int = 32,
    intermediate: int = 64,
    layers: int = 2,
    heads: int = 2,
    kv_heads: int = 2,
    positions: int = 256,
) -> Any:
    """A random Llama (seeded) for `tokenizer`; bench/gpu_check.py builds a wider one."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config)


def _permute(weights: Any, heads: int) -> Any:
    # llama.cpp stores Q/K rows interleaved for its rotary layout;
    # transformers undoes this when it reads a GGUF.
    shape = weights.shape
    return weights.reshape(heads, 2, shape[0] // heads // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def write_gguf(model: Any, tokenizer: Any, path: Path) -> None:
    """Write ``model`` and its byte-level BPE tokenizer as a float32 Llama GGUF."""
    import gguf
    import numpy as np

    config = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    vocab = tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.__getitem__)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if token in SPECIALS else 1 for token in tokens])  # 3: control
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_chat_template(CHAT_TEMPLATE)
    for name, tensor in model.state_dict().items():
        array = tensor.detach().float().numpy()
        if name in _GGUF_TOP:
            writer.add_tensor(_GGUF_TOP[name], np.ascontiguousarray(array))
            continue
        _, _, layer, part = name.split(".", 3)
        part = part.removesuffix(".weight")
        if part in ("self_attn.q_proj", "self_attn.k_proj"):
            array = _permute(array, config.num_attention_heads)
        writer.add_tensor(f"blk.{layer}.{_GGUF_LAYER[part]}.weight", np.ascontiguousarray(array))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def build_tiny_model(root: Path) -> TinyModel:
    """Build the tiny model under ``root`` (``hf/`` and ``tiny-llama.gguf``)."""
    tokenizer = _tokenizer()
    model = _model(tokenizer)
    directory = root / "hf"
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    gguf_path = root / "tiny-llama.gguf"
    write_gguf(model, tokenizer, gguf_path)
    return TinyModel(directory, gguf_path, model, tokenizer)
