"""Pre-training polymix's tiny base models from scratch: the recipe behind ``polymix pretrain-base``.

The embedded default fine-tunes these bases, as real SFT starts from a pre-trained checkpoint. A base is a
``LlamaForCausalLM`` (no QK-norm: with Qwen3's normalised queries and keys copying never started within 6,000 steps
here) and a byte-level BPE tokenizer trained on the corpus alone, so that an evaluation item's text never made a
vocabulary entry and every entry is a piece the model has read. The corpus is :mod:`training.pretrain_corpus`.

The recipe reads top to bottom: ``setup`` (sample data, tokenizer, model, optimiser, or all of them back from the last
checkpoint), ``train`` (the loop, logging loss, gradient norm and an induction score), ``save`` (the HF checkpoint and
its manifest). Document ``i`` of the corpus depends on the seed and ``i`` alone, so a resumed run (here or on another
machine, CPU or GPU) trains on exactly the documents the uninterrupted run would have.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from training import pretrain_corpus as corpus
from training.models import BASE_SHAPES, BASES_DIR, base_config, train_tokenizer
from training.sample_data import write_sample_data

MANIFEST = "manifest.json"
TOKENIZER_DOCUMENTS = 20_000  # corpus documents the tokenizer learns from
HELD_OUT_START = 10**9  # held-out documents: indices no run reaches (10^9 / 32 steps)


@dataclass(frozen=True)
class Recipe:
    size: str = "m"
    steps: int = 8000
    batch: int = 32
    max_len: int = 128
    lr: float = 1e-3
    warmup: int = 200
    min_lr_ratio: float = 0.1  # cosine to this share of the peak
    beta2: float = 0.95  # β2 0.95 damps the loss spikes that end a forming induction circuit
    weight_decay: float = 0.1  # on weight matrices only: never on norms or the (tied) embedding
    clip: float = 1.0
    seed: int = 0
    log_every: int = 100
    checkpoint_every: int = 500
    # How the weights are stored: "bfloat16" halves the bytes every committed version leaves in the repository's
    # history (fine-tuning loads them as fp32); the committed tiny-m is bfloat16, tiny-s float32.
    stored_dtype: str = "float32"


# ------------------------------------------------------------------------------------------------- batches
def encode(tokenizer, document: corpus.Document, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels of one document: BOS, its segments, EOS; labels -100 where the loss is not computed."""
    ids, labels = [tokenizer.bos_token_id], [-100]
    for text, scored in document:
        piece = tokenizer.encode(text, add_special_tokens=False)
        ids += piece
        labels += piece if scored else [-100] * len(piece)
    ids.append(tokenizer.eos_token_id)
    labels.append(tokenizer.eos_token_id if document[-1][1] else -100)
    return ids[:max_len], labels[:max_len]


def pack(rows: list[tuple[list[int], list[int]]], max_len: int, pad_id: int):
    """Documents packed one after another into rows of ``max_len`` tokens (a document that does not fit starts the next
    row), as pre-training usually does: half the compute of padding every document to the longest."""
    import torch

    packed: list[tuple[list[int], list[int]]] = []
    for ids, labels in rows:
        if not packed or len(packed[-1][0]) + len(ids) > max_len:
            packed.append(([], []))
        packed[-1][0].extend(ids)
        packed[-1][1].extend(labels)
    width = max(len(ids) for ids, _ in packed)
    input_ids = torch.full((len(packed), width), pad_id)
    labels = torch.full((len(packed), width), -100)
    attention = torch.zeros((len(packed), width), dtype=torch.long)
    for i, (ids, row_labels) in enumerate(packed):
        input_ids[i, :len(ids)] = torch.tensor(ids)
        labels[i, :len(ids)] = torch.tensor(row_labels)
        attention[i, :len(ids)] = 1
    return input_ids, attention, labels


def scored_loss(model, input_ids, attention, labels):
    """Cross-entropy averaged over the scored tokens of the whole batch."""
    import torch.nn.functional as F

    logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]
    targets = labels[:, 1:]
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100)


# ------------------------------------------------------------------------------------------ copy monitoring
def repeated_tokens(token_ids: list[int], bos_id: int, seed: int, rows: int = 16, length: int = 24):
    """Held-out sequences of random tokens, each repeated once (BOS, x, x), drawn from ``token_ids``: the tokens the
    corpus's words are made of (a token never seen as an input cannot be copied, whatever the circuit)."""
    import torch

    generator = torch.Generator().manual_seed(seed + 1_000_003)
    choices = torch.tensor(sorted(set(token_ids)))
    body = choices[torch.randint(len(choices), (rows, length), generator=generator)]
    return torch.cat([torch.full((rows, 1), bos_id), body, body], dim=1), length


def induction_scores(model, probe) -> dict[str, float]:
    """On repeated random tokens: copy accuracy (top-1 on the repeat, after its first token) and the best head's
    prefix-matching score (the mean attention a repeat position pays to the token after its earlier occurrence,
    the signature of an induction head; 1 is a perfect one)."""
    import torch

    ids, length = probe
    model.config._attn_implementation = "eager"  # the only implementation that returns attention weights
    try:
        with torch.no_grad():
            out = model(input_ids=ids, output_attentions=True)
    finally:
        model.config._attn_implementation = "sdpa"
    predicted = out.logits[:, length + 1:-1].argmax(-1)
    accuracy = (predicted == ids[:, length + 2:]).float().mean().item()
    positions = torch.arange(length + 2, 2 * length + 1)  # a repeat token at p attends to p - length + 1
    best = 0.0
    for layer in out.attentions:  # (batch, heads, query, key)
        score = layer[:, :, positions, positions - length + 1].mean(dim=(0, 2))
        best = max(best, score.max().item())
    return {"copy_accuracy": accuracy, "prefix_matching": best}


# ---------------------------------------------------------------------------------------------- the recipe
class Pretraining:
    def __init__(self, recipe: Recipe, workdir: str | Path):
        self.recipe, self.workdir = recipe, Path(workdir)
        self.checkpoint = self.workdir / "checkpoint.pt"
        self.log_path = self.workdir / "log.jsonl"

    def setup(self) -> None:
        import torch
        from transformers import LlamaForCausalLM, PreTrainedTokenizerFast
        from transformers.optimization import get_cosine_with_min_lr_schedule_with_warmup

        recipe = self.recipe
        self.workdir.mkdir(parents=True, exist_ok=True)
        sample_dir = self.workdir / "sample_data"
        if not (sample_dir / "api").is_dir():  # the default sample data, exactly what the smoke study trains on
            write_sample_data(sample_dir)
        self.texts = corpus.training_prose(sample_dir)
        self.pool = corpus.word_pool(self.texts)
        tokenizer_dir = self.workdir / "tokenizer"
        if not (tokenizer_dir / "tokenizer.json").is_file():
            self._train_tokenizer().save_pretrained(tokenizer_dir)
        self.tokenizer = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
        torch.manual_seed(recipe.seed)
        config = base_config(BASE_SHAPES[recipe.size], vocab_size=len(self.tokenizer),
                             bos_token_id=self.tokenizer.bos_token_id, eos_token_id=self.tokenizer.eos_token_id,
                             pad_token_id=self.tokenizer.pad_token_id)
        self.model = LlamaForCausalLM(config)
        decay = [p for n, p in self.model.named_parameters() if p.dim() >= 2 and "embed" not in n]
        rest = [p for n, p in self.model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay},
                                            {"params": rest, "weight_decay": 0.0}],
                                           lr=recipe.lr, betas=(0.9, recipe.beta2))
        self.scheduler = get_cosine_with_min_lr_schedule_with_warmup(
            self.optimizer, recipe.warmup, recipe.steps, min_lr_rate=recipe.min_lr_ratio)
        self.step, self.tokens_seen = 0, 0
        self.probe = repeated_tokens(self.tokenizer.encode(" ".join(self.pool), add_special_tokens=False),
                                     self.tokenizer.bos_token_id, recipe.seed)
        self.held_out = [corpus.document(recipe.seed, HELD_OUT_START + i, self.texts, self.pool) for i in range(200)]
        if self.checkpoint.is_file():
            self._resume()

    def _train_tokenizer(self):
        """On corpus documents only: every vocabulary entry is then a piece the model reads in pre-training (a token
        never seen as an input cannot be copied), and none was made by a validation or test row."""
        return train_tokenizer("".join(text for text, _ in doc)
                               for doc in corpus.documents(self.recipe.seed, 0, TOKENIZER_DOCUMENTS, self.texts, self.pool))

    def _resume(self) -> None:
        import torch

        state = torch.load(self.checkpoint, weights_only=False)
        if _trained_by(state["recipe"]) != _trained_by(dataclasses.asdict(self.recipe)):
            raise ValueError(f"{self.checkpoint}: made by another recipe ({state['recipe']}); give a new --workdir or "
                             "the same settings")
        if state.get("shape", BASE_SHAPES[self.recipe.size]) != BASE_SHAPES[self.recipe.size]:
            raise ValueError(f"{self.checkpoint}: a tiny-{self.recipe.size} of another shape ({state['shape']}) than "
                             f"training.models.BASE_SHAPES's; give a new --workdir")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.tokens_seen = state["step"], state["tokens_seen"]
        torch.set_rng_state(state["torch_rng"])
        if self.log_path.is_file():  # what was logged after the checkpoint is trained again: logged again
            kept = [line for line in self.log_path.read_text(encoding="utf-8").splitlines()
                    if json.loads(line)["step"] <= self.step]
            self.log_path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        print(f"[polymix] pretrain: resumed at step {self.step} from {self.checkpoint}", flush=True)

    def save_checkpoint(self) -> None:
        import torch

        state = {"recipe": dataclasses.asdict(self.recipe), "shape": BASE_SHAPES[self.recipe.size],
                 "model": self.model.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "step": self.step, "tokens_seen": self.tokens_seen, "torch_rng": torch.get_rng_state()}
        staging = self.checkpoint.with_suffix(".tmp")
        torch.save(state, staging)
        os.replace(staging, self.checkpoint)

    def train(self, stop_after: int | None = None) -> None:
        """Train to the recipe's last step (or ``stop_after`` steps from here, to stop and go on later)."""
        import torch

        recipe = self.recipe
        last = recipe.steps if stop_after is None else min(recipe.steps, self.step + stop_after)
        losses, started = [], time.time()
        self.model.train()
        while self.step < last:
            docs = corpus.documents(recipe.seed, self.step * recipe.batch, recipe.batch, self.texts, self.pool)
            rows = [encode(self.tokenizer, doc, recipe.max_len) for doc in docs]
            input_ids, attention, labels = pack(rows, recipe.max_len, self.tokenizer.pad_token_id)
            loss = scored_loss(self.model, input_ids, attention, labels)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), recipe.clip).item()
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            self.tokens_seen += int(attention.sum())
            losses.append(loss.item())
            if self.step % recipe.log_every == 0 or self.step == last:
                self._log(losses, grad_norm, time.time() - started)
                losses, started = [], time.time()
            if self.step % recipe.checkpoint_every == 0 or self.step == last:
                self.save_checkpoint()

    def _log(self, losses: list[float], grad_norm: float, seconds: float) -> None:
        self.model.eval()
        scores = {**induction_scores(self.model, self.probe), **self.held_out_accuracy()}
        self.model.train()
        entry = {"step": self.step, "loss": sum(losses) / len(losses), "grad_norm": grad_norm,
                 "lr": self.scheduler.get_last_lr()[0], "tokens_seen": self.tokens_seen, **scores,
                 "steps_per_s": len(losses) / max(seconds, 1e-9)}
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        print(f"[polymix] pretrain tiny-{self.recipe.size} step {self.step}/{self.recipe.steps}: loss {entry['loss']:.3f}"
              f" · grad norm {grad_norm:.2f} · held-out copy {scores['held_out/copy']:.2f}, call "
              f"{scores['held_out/call']:.2f}, arithmetic {scores['held_out/arithmetic']:.2f} · repeated random tokens "
              f"{scores['copy_accuracy']:.2f}, prefix matching {scores['prefix_matching']:.2f} · "
              f"{entry['steps_per_s']:.1f} steps/s", flush=True)

    def held_out_accuracy(self, model=None) -> dict[str, float]:
        """Next-token accuracy on the scored tokens of held-out documents, per kind (``held_out/copy``, ...)."""
        import torch

        model = self.model if model is None else model
        hits: dict[str, list[int]] = {}
        for kind, doc in self.held_out:
            ids, labels = encode(self.tokenizer, doc, self.recipe.max_len)
            with torch.no_grad():
                predicted = model(input_ids=torch.tensor([ids])).logits[0, :-1].argmax(-1)
            targets = torch.tensor(labels[1:])
            scored = targets != -100
            counts = hits.setdefault(kind, [0, 0])
            counts[0] += int((predicted[scored] == targets[scored]).sum())
            counts[1] += int(scored.sum())
        return {f"held_out/{kind}": right / max(total, 1) for kind, (right, total) in sorted(hits.items())}

    def save(self, out_dir: str | Path) -> Path:
        """The HF checkpoint (weights in the recipe's ``stored_dtype``; fine-tuning loads them as fp32) and its
        manifest, written atomically. The manifest's scores are measured on the weights as stored, so what it claims
        is what a study gets."""
        import copy

        import torch

        out_dir = Path(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=".staging-"))
        copy.deepcopy(self.model).to(getattr(torch, self.recipe.stored_dtype)).save_pretrained(staging)
        self.tokenizer.save_pretrained(staging)
        shutil.copy(self.log_path, staging / "pretrain_log.jsonl")
        (staging / MANIFEST).write_text(json.dumps(self.manifest(staging), indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.rename(staging, out_dir)
        return out_dir

    def manifest(self, folder: Path) -> dict:
        import torch
        from transformers import LlamaForCausalLM

        final = json.loads(self.log_path.read_text(encoding="utf-8").splitlines()[-1])
        stored = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        as_stored = {**induction_scores(stored, self.probe), **self.held_out_accuracy(stored)}
        return {"recipe": dataclasses.asdict(self.recipe), "architecture": "LlamaForCausalLM",
                "shape": BASE_SHAPES[self.recipe.size],
                "parameters": sum(p.numel() for p in self.model.parameters()), "steps": self.step,
                "tokens_seen": self.tokens_seen, "corpus_sha256": self.corpus_hash(),
                "final": {"loss": final["loss"], "grad_norm": final["grad_norm"], **as_stored},
                "final_as_trained": {key: value for key, value in final.items() if key not in ("step", "lr", "steps_per_s")},
                "files": {path.name: file_sha256(path) for path in sorted(folder.iterdir()) if path.name != MANIFEST}}

    def corpus_hash(self) -> str:
        """sha256 of every document the run trained on, in order (text and which segments were scored)."""
        digest = hashlib.sha256()
        for doc in corpus.documents(self.recipe.seed, 0, self.step * self.recipe.batch, self.texts, self.pool):
            digest.update(json.dumps(doc, ensure_ascii=False).encode("utf-8"))
        return digest.hexdigest()


def _trained_by(recipe: dict) -> dict:
    """The settings that change what is trained (how often it logs and checkpoints, and how it is stored, do not)."""
    return {key: value for key, value in recipe.items() if key not in ("log_every", "checkpoint_every", "stored_dtype")}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_manifest(folder: str | Path) -> list[str]:
    """Files of a base whose sha256 differs from its manifest's, or that are missing or not listed."""
    folder = Path(folder)
    listed = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
    present = {path.name for path in folder.iterdir() if path.name != MANIFEST}
    problems = [f"{name}: not in the manifest" for name in sorted(present - set(listed))]
    for name, digest in sorted(listed.items()):
        if name not in present:
            problems.append(f"{name}: missing")
        elif file_sha256(folder / name) != digest:
            problems.append(f"{name}: sha256 differs from the manifest")
    return problems


def pretrain_base(recipe: Recipe, workdir: str | Path, out_dir: str | Path | None = None,
                  stop_after: int | None = None, threads: int | None = None) -> Path | None:
    """Pre-train (or go on pre-training) a tiny base; write it to ``out_dir`` (default: the committed base) when its
    last step is done. Returns the folder written, or None while steps remain."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    run = Pretraining(recipe, workdir)
    run.setup()
    run.train(stop_after)
    if run.step < recipe.steps:
        print(f"[polymix] pretrain: stopped at step {run.step}/{recipe.steps}; run the same command to go on", flush=True)
        return None
    return run.save(out_dir or BASES_DIR / f"tiny-{recipe.size}")



def plot_curves(logs: dict[str, Path], out_png: str | Path) -> Path:
    """Loss, gradient norm and the copy scores against steps, one line per base: the figure of docs/tiny_bases.md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, path in logs.items():
        log = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
        steps = [entry["step"] for entry in log]
        axes[0].plot(steps, [entry["loss"] for entry in log], label=name)
        axes[1].plot(steps, [entry["grad_norm"] for entry in log], label=name)
        axes[2].plot(steps, [entry["copy_accuracy"] for entry in log], label=f"{name} copy accuracy")
        axes[2].plot(steps, [entry["prefix_matching"] for entry in log], "--", label=f"{name} prefix matching")
    for axis, title in zip(axes, ("training loss (scored tokens)", "gradient norm (before clipping)",
                                  "held-out repeated random tokens")):
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("step")
        axis.legend(fontsize=8)
    axes[2].set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return Path(out_png)
