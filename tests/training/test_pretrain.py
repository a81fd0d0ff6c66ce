"""The tiny bases' pre-training (training/pretrain.py, training/pretrain_corpus.py): a corpus disjoint from every
evaluation item, committed checkpoints that match their manifests, a tokenizer that is the recipe's, and a recipe
whose loss falls and that resumes exactly."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import pytest

from training import pretrain_corpus as corpus
from training.models import BASE_SHAPES, BASES_DIR, load_model
from training.pretrain import MANIFEST, Pretraining, Recipe, check_manifest

SIZES = ("s", "m")


@pytest.fixture(scope="module")
def prose(sample_dir) -> tuple[list[str], list[str]]:
    texts = corpus.training_prose(sample_dir)
    return texts, corpus.word_pool(texts)


def manifest(size: str) -> dict:
    return json.loads((BASES_DIR / f"tiny-{size}" / MANIFEST).read_text(encoding="utf-8"))


def test_a_document_depends_on_the_seed_and_its_index_alone(prose):
    texts, pool = prose
    assert corpus.document(0, 1234, texts, pool) == corpus.document(0, 1234, texts, pool)
    assert list(corpus.documents(0, 10, 5, texts, pool)) == [corpus.document(0, i, texts, pool)[1] for i in range(10, 15)]
    assert corpus.document(0, 1234, texts, pool) != corpus.document(1, 1234, texts, pool)
    kinds = {corpus.document(0, i, texts, pool)[0] for i in range(200)}
    assert kinds == set(corpus.KINDS)


def test_a_copy_episode_repeats_its_span_token_for_token_with_nothing_marking_it(prose):
    """The copy and characters episodes teach induction: the scored repeat is, token for token, a stretch the document
    already holds (so it is predictable from the context alone), and no marker announces where it starts."""
    from transformers import PreTrainedTokenizerFast

    texts, pool = prose
    tokenizer = PreTrainedTokenizerFast.from_pretrained(BASES_DIR / "tiny-m")
    episodes = [doc for kind, doc in (corpus.document(0, i, texts, pool) for i in range(400))
                if kind in ("copy", "characters")]
    assert len(episodes) > 100
    for doc in episodes:
        (context, scored), (repeat, is_scored) = doc
        assert not scored and is_scored and not re.search(r"[«»|]", context)
        context_ids = tokenizer.encode(context, add_special_tokens=False)
        repeat_ids = tokenizer.encode(repeat, add_special_tokens=False)
        starts = [i for i in range(len(context_ids)) if context_ids[i:i + len(repeat_ids)] == repeat_ids]
        assert starts and starts[0] < len(context_ids) - len(repeat_ids), (context, repeat)


def test_the_corpus_reads_prose_of_the_text_tasks_training_splits_only(sample_dir, prose):
    texts, _ = prose
    math_and_api = {json.loads(line)[field] for task, field in (("math", "question"), ("api", "request"))
                    for path in sample_dir.glob(f"{task}/*/train.jsonl")
                    for line in path.read_text(encoding="utf-8").splitlines()}
    assert texts and not math_and_api & set(texts)
    evaluation = {json.loads(line)["text"] for split in ("validation", "test")
                  for path in sample_dir.glob(f"summarization/*/{split}.jsonl")
                  for line in path.read_text(encoding="utf-8").splitlines()}
    assert not evaluation & set(texts)


@pytest.mark.parametrize("size", SIZES)
def test_no_document_a_base_was_trained_on_holds_an_evaluation_item(sample_dir, prose, size):
    """Every document of the committed base's run (its steps × batch) against every validation and test row."""
    texts, pool = prose
    recipe = manifest(size)["recipe"]
    docs = ["".join(text for text, _ in doc)
            for doc in corpus.documents(recipe["seed"], 0, recipe["steps"] * recipe["batch"], texts, pool)]
    items = corpus.evaluation_items(sample_dir)
    assert items["prompt"] and items["api_name"] and items["api_value"]
    found = corpus.leaks(docs, items)
    # A short value that the made-up-word generator also makes (Swahili "kuku", chicken, is "ku" + "ku"), or a clock
    # time (a time of day the train rows happen not to hold), is a chance collision, not a read of the evaluation
    # data: it is in no prose the corpus reads.
    chance = [(kind, item) for kind, item in found if kind == "api_value" and corpus.could_be_drawn(item)]
    assert not any(item in text for _, item in chance for text in texts)
    assert found == chance and len(chance) <= 3


def test_a_planted_evaluation_item_is_caught(sample_dir, prose):
    texts, pool = prose
    items = corpus.evaluation_items(sample_dir)
    test_rows = [json.loads(line) for line in (sample_dir / "api" / "en" / "test.jsonl").read_text().splitlines()]
    math_test = json.loads((sample_dir / "math" / "es" / "test.jsonl").read_text().splitlines()[3])
    value = next(v for row in test_rows for v in row["arguments"].values() if v in items["api_value"])
    planted = [f"def {test_rows[0]['api_name']}(x): y\n>>> ", f"order code {value} here", math_test["question"]]
    docs = ["".join(text for text, _ in doc) for doc in corpus.documents(0, 0, 2000, texts, pool)]
    found = corpus.leaks(docs + planted, items)
    assert ("api_name", test_rows[0]["api_name"]) in found
    assert ("api_value", value) in found
    assert ("prompt", math_test["question"]) in found
    assert len(found) == 3


@pytest.mark.parametrize("size", SIZES)
def test_the_committed_base_matches_its_manifest(size, tmp_path):
    folder = BASES_DIR / f"tiny-{size}"
    assert check_manifest(folder) == []
    facts = manifest(size)
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= set(facts["files"])
    assert facts["steps"] == facts["recipe"]["steps"] and facts["tokens_seen"] > 0 and len(facts["corpus_sha256"]) == 64
    tampered = shutil.copytree(folder, tmp_path / "copy")
    (tampered / "config.json").write_text((tampered / "config.json").read_text() + " ")
    assert check_manifest(tampered) == ["config.json: sha256 differs from the manifest"]


def test_the_bases_weigh_at_most_25_mb_in_all():
    assert sum(path.stat().st_size for path in BASES_DIR.glob("*/*")) <= 25 * 2**20


def test_the_committed_tokenizer_is_the_one_the_recipe_trains_from_the_corpus_and_training_splits(sample_dir, tmp_path):
    """So no validation or test text made a vocabulary entry: an unseen API's name breaks into seen pieces."""
    shutil.copytree(sample_dir, tmp_path / "sample_data")
    run = Pretraining(Recipe(**manifest("m")["recipe"]), tmp_path)
    run.setup()
    trained = json.loads((tmp_path / "tokenizer" / "tokenizer.json").read_text())["model"]["vocab"]
    for size in SIZES:
        committed = json.loads((BASES_DIR / f"tiny-{size}" / "tokenizer.json").read_text())["model"]["vocab"]
        assert committed == trained
    assert "SetThermostat" not in trained and len(run.tokenizer.tokenize("SetThermostat")) > 1


def test_pretraining_lowers_the_loss_and_resumes_exactly(sample_dir, tmp_path):
    recipe = Recipe(size="s", steps=24, batch=8, lr=5e-3, warmup=4, log_every=4, checkpoint_every=4)
    for name in ("whole", "resumed"):
        shutil.copytree(sample_dir, tmp_path / name / "sample_data")
    whole = Pretraining(recipe, tmp_path / "whole")
    whole.setup()
    shutil.copytree(tmp_path / "whole" / "tokenizer", tmp_path / "resumed" / "tokenizer")  # trained once
    whole.train()
    first = Pretraining(recipe, tmp_path / "resumed")
    first.setup()
    first.train(stop_after=10)  # stops at step 10; the last checkpoint is step 10's
    assert first.step == 10
    second = Pretraining(recipe, tmp_path / "resumed")
    second.setup()  # a new process would do the same: the checkpoint brings model, optimiser, schedule and step back
    assert second.step == 10
    second.train()
    log = [json.loads(line) for line in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    resumed = [json.loads(line) for line in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["loss"] < log[0]["loss"] - 0.5
    assert [e["step"] for e in log] == [4, 8, 12, 16, 20, 24]
    assert [e["loss"] for e in resumed if e["step"] > 12] == pytest.approx([e["loss"] for e in log if e["step"] > 12], rel=1e-5)
    for entry in log:
        assert {"grad_norm", "copy_accuracy", "prefix_matching", "tokens_seen"} <= set(entry)
    out = second.save(tmp_path / "base")
    assert check_manifest(out) == []
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(out).config.model_type == "llama"


def test_a_base_stored_in_bf16_is_half_the_bytes_loads_as_fp32_and_its_manifest_scores_the_stored_weights(
        sample_dir, tmp_path, monkeypatch):
    recipe = Recipe(size="s", steps=8, batch=8, lr=5e-3, warmup=2, log_every=4, checkpoint_every=4)
    shutil.copytree(sample_dir, tmp_path / "run" / "sample_data")
    run = Pretraining(recipe, tmp_path / "run")
    run.setup()
    run.train()
    fp32 = run.save(tmp_path / "fp32")
    stored = Pretraining(dataclasses.replace(recipe, stored_dtype="bfloat16"), tmp_path / "run")
    stored.setup()  # the same run (how it is stored is not part of what it trains): resumed at its last step
    assert stored.step == 8
    bf16 = stored.save(tmp_path / "bf16")
    assert check_manifest(bf16) == []
    size = {out: (out / "model.safetensors").stat().st_size for out in (fp32, bf16)}
    assert size[bf16] < 0.55 * size[fp32]
    model = load_model(str(bf16))
    assert {p.dtype for p in model.parameters()} == {__import__("torch").float32}
    facts = json.loads((bf16 / MANIFEST).read_text())
    assert facts["shape"] == BASE_SHAPES["s"] and facts["recipe"]["stored_dtype"] == "bfloat16"
    from training.pretrain import induction_scores

    assert facts["final"]["copy_accuracy"] == induction_scores(model.eval(), stored.probe)["copy_accuracy"]
    # A work dir whose checkpoint has another shape than BASE_SHAPES says is refused by name, not by a tensor error.
    monkeypatch.setitem(BASE_SHAPES, "s", {**BASE_SHAPES["s"], "num_hidden_layers": 3})
    with pytest.raises(ValueError, match="another shape"):
        Pretraining(recipe, tmp_path / "run").setup()
