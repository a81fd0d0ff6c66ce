"""Model loading (hub id or local path, always through ``from_pretrained``), polymix's tiny bases and the tiny-model
factory.

The tiny models stand in for model scale on a machine without GPUs. By default they are polymix's own pre-trained
bases (``training/bases/tiny-{s,m}``, made by ``polymix pretrain-base``, docs/tiny_bases.md): Llama architecture, a
byte-level BPE tokenizer trained on the pre-training corpus and the sample data's training splits (byte fallback
covers every script, digits are split one by one so arithmetic stays learnable). With ``init: random`` a study gets
a randomly initialised Qwen3 of the old shapes instead, its tokenizer trained on the study's training files. Both are
in HF format, so the training and evaluation code cannot tell them from a hub checkpoint.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from training.errors import ModelError

# torch / transformers / tokenizers are imported inside the functions that use them, so that validating a
# study (which only needs check_model_source) stays well under a second.

TINY_VOCAB_SIZE = 4096
# name → Qwen3 shape; two sizes so "model scale" is a real variable in smoke studies.
TINY_SIZES: dict[str, dict] = {
    "s": dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2),
    "m": dict(hidden_size=128, intermediate_size=512, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2),
}
# name → the shape of polymix's pre-trained tiny bases (training/pretrain.py): Llama, without Qwen3's QK-norm, which
# kept copying from starting in pre-training here; tiny-m: 4 layers, 4 heads of 32 with their own keys and values
# (version 3: every seen math cell of the smoke study ≥ 0.30, against 0.10 with 3 layers and 2 key-value heads);
# tiny-s: 4 heads of 24, 2 of keys and values.
BASE_SHAPES: dict[str, dict] = {
    "s": dict(hidden_size=96, intermediate_size=384, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2),
    "m": dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4),
}
BASES_DIR = Path(__file__).with_name("bases")
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}


def base_dir(size: str) -> Path:
    """The committed pre-trained tiny base of ``size``."""
    tiny_shape(size)  # an unknown size is refused by name
    folder = BASES_DIR / f"tiny-{size}"
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: no pre-trained tiny-{size} base there; re-create it with `polymix pretrain-base "
                         f"--size {size}`, or set init: random on the model to build a random-init one")
    return folder


@functools.lru_cache(maxsize=None)  # read once per process: every run's identity (spec_hash) asks for the version
def base_manifest(size: str) -> dict:
    return json.loads((base_dir(size) / "manifest.json").read_text(encoding="utf-8"))


def base_stored_dtype(size: str) -> str:
    """How the committed base's weights are stored (its config's dtype)."""
    return json.loads((base_dir(size) / "config.json").read_text(encoding="utf-8")).get("dtype", "float32")


def base_version(size: str) -> str:
    """The base's version: the start of its weights' sha256 (a re-created base is a different model)."""
    return base_manifest(size)["files"]["model.safetensors"][:12]


def load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    if tokenizer.pad_token is None:  # many base checkpoints ship without one
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(name_or_path: str, dtype=None, gradient_checkpointing: bool = False):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype or torch.float32)
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model


def keeps_selected_logits(model) -> bool:
    """Whether ``model``'s forward computes logits at chosen positions only (``logits_to_keep``, which every causal LM
    of transformers 5 takes): training then asks for the target positions alone (training/batching.py)."""
    import inspect

    return "logits_to_keep" in inspect.signature(model.forward).parameters


def language_model_parameters(model) -> int:
    """Parameters of the language model alone: its decoder and output head, each shared tensor once. A multimodal
    checkpoint (Gemma-3 4B loads with a vision tower and projector) is sized as the language model the study
    fine-tunes and compares, which is what the regression's model-size term means; a text model gives its whole count."""
    parameters = {id(p): p for p in model.get_decoder().parameters()}
    head = model.get_output_embeddings()
    parameters.update({id(p): p for p in (head.parameters() if head is not None else ())})
    return sum(p.numel() for p in parameters.values())


def model_family(model_type: str) -> str:
    """A model's family from its config's ``model_type``: ``qwen3`` → ``qwen``, ``gemma3_text`` → ``gemma``, so that
    an analysis pools the versions of one family (the paper's "Qwen family" term)."""
    match = re.match(r"[a-z]+", model_type.lower())
    return match.group(0) if match else model_type


def check_model_source(name_or_path: str) -> None:
    """Fail early, before any job starts, for a local path that is not a model or an unreachable hub id."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(f"{name_or_path}: no config.json there; give a directory written by save_pretrained or a hub id")
        return
    looks_local = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") != 1
    if looks_local:
        raise ModelError(f"{name_or_path}: path does not exist; give an existing model directory or a hub id like 'Qwen/Qwen3-0.6B'")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(name_or_path, "config.json"), str):
            raise ModelError(f"{name_or_path}: not in the local HF cache and HF_HUB_OFFLINE=1; download it first or unset HF_HUB_OFFLINE")


def train_tokenizer(texts: Iterable[str], vocab_size: int = TINY_VOCAB_SIZE):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **SPECIAL_TOKENS)


def make_tiny_model(out_dir: str | Path, size: str, corpus: Iterable[str], seed: int = 0) -> Path:
    """Write a randomly initialised tiny Qwen3 and its tokenizer to ``out_dir`` (atomically, once)."""
    return make_random_model(out_dir, tiny_shape(size), corpus, seed)


def make_random_model(out_dir: str | Path, shape: dict, corpus: Iterable[str], seed: int = 0) -> Path:
    """A randomly initialised Qwen3 of ``shape`` plus a tokenizer trained on ``corpus``, in HF format."""
    out_dir = Path(out_dir)
    if (out_dir / "config.json").exists():
        return out_dir
    import torch
    from transformers import Qwen3ForCausalLM

    tokenizer = train_tokenizer(corpus)
    config = qwen3_config(shape, vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                          eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=".staging-"))
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        os.rename(staging, out_dir)
    except OSError:  # built concurrently by another process: keep the first
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def tiny_shape(size: str) -> dict:
    if size not in TINY_SIZES:
        raise ModelError(f"unknown tiny model size {size!r}; choose one of {', '.join(TINY_SIZES)}")
    return TINY_SIZES[size]


def qwen3_config(shape: dict, vocab_size: int = TINY_VOCAB_SIZE, max_position_embeddings: int = 512, **token_ids):
    """A Qwen3 configuration of ``shape`` (hidden size, layers, heads, ...)."""
    from transformers import Qwen3Config

    return Qwen3Config(vocab_size=vocab_size, head_dim=shape["hidden_size"] // shape["num_attention_heads"],
                       max_position_embeddings=max_position_embeddings, tie_word_embeddings=True, **token_ids, **shape)


def base_config(shape: dict, vocab_size: int = TINY_VOCAB_SIZE, max_position_embeddings: int = 512, **token_ids):
    """A Llama configuration of ``shape`` for a tiny base (RoPE base 10,000, tied embeddings)."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, head_dim=shape["hidden_size"] // shape["num_attention_heads"],
                       max_position_embeddings=max_position_embeddings, tie_word_embeddings=True, rope_theta=10_000.0,
                       **token_ids, **shape)


def tiny_param_count(size: str, init: str = "random") -> int:
    """Parameters of a tiny model of ``size``: the base's manifest says, a random-init one is built on the meta device
    (no memory, no tokenizer needed)."""
    if init == "pretrained":
        return int(base_manifest(size)["parameters"])
    import torch
    from transformers import Qwen3ForCausalLM

    with torch.device("meta"):
        return sum(p.numel() for p in Qwen3ForCausalLM(qwen3_config(tiny_shape(size))).parameters())
