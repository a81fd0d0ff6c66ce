"""Training padding: the share of the tokens in an epoch's micro-batches that are padding, with the steps' examples
cut into micro-batches as shuffled (polymix before) and sorted by length inside each step (polymix now).

    .venv/bin/python benchmarks/padding.py

The rows are the realistic fixtures (tests/fixtures: each real dataset's published layout), every task's train split
in every language the fixture has, mixed together as a study's mixture is, tokenised with the embedded default's
tiny tokenizer and each task's prompt format (max_seq_len 512). Each (global batch, micro-batch, workers) split is
one epoch of training/batching.py's GlobalBatchSampler; the update of a step is the same either way (one sum over
the step's target tokens), so only the padding differs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.batching import GlobalBatchSampler  # noqa: E402
from training.models import load_tokenizer, make_tiny_model  # noqa: E402
from training.preparation import read_split  # noqa: E402
from training.sft import tokenize  # noqa: E402
from training.sources import sample_data_dir  # noqa: E402
from training.tasks import get_task  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
SOURCES = {  # task: (train source, the fixture's languages)
    "math": ({"format": "mcot_math", "path": str(FIXTURES / "mcot_math"), "file": "lang-id/mcot-math.json"}, ["en", "es", "ja"]),
    "api": ({"format": "mapicall_bank", "path": str(FIXTURES / "mapicall_bank")}, ["en", "es", "te"]),
    "summarization": ({"format": "xlsum", "path": str(FIXTURES / "xlsum")}, ["en", "es", "ru"]),
    "instruction": ({"format": "aya_dolly", "path": str(FIXTURES / "aya"), "file": "translated_dolly"}, ["en", "es"]),
}
SPLITS = [(64, 8, 1), (64, 8, 2), (32, 4, 1), (128, 16, 4), (32, 32, 1)]  # (global batch, micro-batch, workers)


def padded_share(lengths: list[int], global_batch: int, micro_batch: int, workers: int, sort: bool) -> float:
    computed = real = 0
    for rank in range(workers):
        sampler = GlobalBatchSampler(len(lengths), global_batch, micro_batch, workers, rank, seed=0,
                                     lengths=lengths if sort else None)
        for indices in sampler:
            if indices:
                computed += len(indices) * max(lengths[i] for i in indices)
                real += sum(lengths[i] for i in indices)
    return 1 - real / computed


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="polymix-padding-"))
    data = sample_data_dir(work)
    corpus = (line for f in sorted(data.glob("*/*/train.jsonl")) for line in f.read_text(encoding="utf-8").splitlines())
    tokenizer = load_tokenizer(str(make_tiny_model(work / "tiny-s", "s", corpus, seed=0)))
    by_task = {}
    for name, (source, languages) in SOURCES.items():
        task = get_task(name)
        rows = read_split(source, task, "train", languages)
        by_task[name] = [len(tokenize(tokenizer, task.prompt(r, lang), task.target(r), 512)["input_ids"])
                         for lang, lang_rows in rows.items() for r in lang_rows]
    by_task["all four, mixed"] = [n for lengths in by_task.values() for n in lengths]

    print("Padded share of an epoch's training tokens (realistic fixtures, tiny tokenizer), shuffled → length-sorted steps")
    print(f"{'rows':<18}{'examples':>9}" + "".join(f"{f'{g}/{m}×{w}':>18}" for g, m, w in SPLITS))
    for name, lengths in by_task.items():
        cells = [f"{padded_share(lengths, g, m, w, False):.1%} → {padded_share(lengths, g, m, w, True):.1%}" for g, m, w in SPLITS]
        print(f"{name:<18}{len(lengths):>9}" + "".join(f"{c:>18}" for c in cells))
    print("columns: global batch / micro-batch × workers; with one micro-batch per step (32/32×1) sorting cannot help.")


if __name__ == "__main__":
    main()
