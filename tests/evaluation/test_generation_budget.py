"""Generation budgets and stop criteria come from the task, never from the references (MGSM test rows have none).

A scripted causal LM (a real Qwen3 whose logits follow a fixed continuation per row) runs through transformers'
own generate(): the stop strings, EOS and budget handling under test are the library's and ours, not a mock's.
"""

import pytest
import torch
from transformers import Qwen3ForCausalLM

from evaluation.evaluate import evaluate_languages
from evaluation.generate import DecodeStats, _generate_batch, generate
from training.models import TINY_SIZES, qwen3_config, train_tokenizer
from training.tasks import QUESTION, get_task

CORPUS = ["Question: Janet has 16 eggs. She eats 3 and bakes 4. The answer is 18.", "Let's think step by step.",
          "16 - 3 - 4 = 9 eggs, sold at 2 dollars each: 9 * 2 = 18 dollars.", "Pregunta: ¿Cuántos huevos?"] * 20


class ScriptedLM(Qwen3ForCausalLM):
    """Greedy decoding follows a script per prompt (its last token repeats once it runs out). The prompts differ in
    length, and that is how a row is known: a batch drops its finished rows, so a row's place in it changes."""

    scripts: list[list[int]] = []  # by prompt length in tokens: the shortest prompt follows scripts[0]

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        output = super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        # the prompt's forward pass (several tokens) gives the first new token, each later pass one more
        if input_ids.shape[1] > 1:
            self.step, self.lengths = 0, sorted(set(attention_mask.sum(-1).tolist()))
        else:
            self.step += 1
        logits = torch.full_like(output.logits[:, -1:, :], -1e4)
        for row, length in enumerate(attention_mask.sum(-1).tolist()):
            script = self.scripts[self.lengths.index(length - self.step)]
            logits[row, 0, script[min(self.step, len(script) - 1)]] = 0.0
        output.logits = logits
        return output


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(CORPUS, vocab_size=400)


def scripted(tokenizer, *continuations: str | list[int]) -> ScriptedLM:
    config = qwen3_config(TINY_SIZES["s"], vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                          pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id)
    model = ScriptedLM(config)
    model.scripts = [c if isinstance(c, list) else tokenizer(c, add_special_tokens=False).input_ids for c in continuations]
    return model


def test_each_completion_ends_at_a_stop_string_at_eos_or_at_the_budget_and_says_which(tokenizer):
    answer = tokenizer("The answer is 18.", add_special_tokens=False).input_ids
    model = scripted(tokenizer, "The answer is 18. Question: Janet has 16 eggs.", answer + [tokenizer.eos_token_id],
                     tokenizer("1 2 3 4 5 6 7 8 9", add_special_tokens=False).input_ids)
    # The i-th shortest prompt follows script i.
    out = generate(model, tokenizer, ["Q1", "Q2 Q2", "Q3 Q3 Q3"], max_new_tokens=12, stop=(QUESTION["en"],))
    assert [g.finish for g in out] == ["stop", "eos", "length"]
    assert out[0].text == "The answer is 18. " and out[0].text + QUESTION["en"] in tokenizer.decode(model.scripts[0])
    assert out[1].text == "The answer is 18." and out[1].tokens == len(answer) + 1
    assert out[2].tokens == 12


def test_a_batch_drops_each_answer_as_it_ends_and_gives_what_transformers_generate_gives(tokenizer):
    """Rows leave the batch as they finish: after the prompt pass, every computed position is a running answer's
    next token. The completions are those of transformers' generate() on the same batch."""
    answer = tokenizer("The answer is 18.", add_special_tokens=False).input_ids
    model = scripted(tokenizer, answer[:2] + [tokenizer.eos_token_id], "The answer is 18. Question: Janet has 16 eggs.",
                     tokenizer("1 2 3 4 5 6 7 8 9", add_special_tokens=False).input_ids)
    prompts, stop = ["Q1", "Q2 Q2", "Q3 Q3 Q3"], (QUESTION["en"],)
    stats = DecodeStats()
    ours = generate(model, tokenizer, prompts, max_new_tokens=12, stop=stop, stats=stats)
    assert [g.finish for g in ours] == ["eos", "stop", "length"] and ours[0].tokens == 3
    assert ours == _generate_batch(model, tokenizer, prompts, 12, stop, DecodeStats())
    lengths = [len(tokenizer(p).input_ids) for p in prompts]
    assert stats.generated == sum(g.tokens for g in ours)
    assert stats.computed == 3 * max(lengths) + sum(g.tokens - 1 for g in ours)  # (the first token: the prompt pass)
    assert stats.useful == sum(lengths) + sum(g.tokens - 1 for g in ours)
    assert stats.decoding_wasted_share == 0 and stats.prompt_padding_share == pytest.approx(1 - sum(lengths) / (3 * max(lengths)))
    theirs = DecodeStats()
    _generate_batch(model, tokenizer, prompts, 12, stop, theirs)  # finished rows stay until the longest answer ends
    assert theirs.decoding_wasted_share == pytest.approx(1 - sum(g.tokens for g in ours) / (3 * 12))


def test_an_mgsm_row_without_a_solution_is_answered_with_the_tasks_budget_not_the_gold_targets_length(tokenizer):
    """MGSM gives the question and the answer number only; a chain of thought reaches its answer after ~40 tokens,
    which a budget of the gold target (empty) + 16 cut at an intermediate number."""
    chain = "16 - 3 - 4 = 9 eggs, sold at 2 dollars each: 9 * 2 = 18 dollars. The answer is 18."
    assert len(tokenizer(chain, add_special_tokens=False).input_ids) > 16 + 8
    rows = [{"id": "mgsm-0001", "question": "Janet has 16 eggs. She eats 3 and bakes 4.", "solution": "", "answer": "18"}]
    model = scripted(tokenizer, chain + " " + QUESTION["en"] + " Tom has 5 apples.")
    result = evaluate_languages(model, tokenizer, "math", {"en": rows}, max_new_tokens=get_task("math").max_new_tokens)["en"]
    prediction = result["predictions"][0]
    assert result["accuracy"] == 1.0 and result["max_new_tokens"] == 512
    assert prediction["finish"] == "stop" and prediction["completion"].strip() == chain
    assert prediction["tokens"] > 16


def test_the_study_budget_replaces_the_tasks_own_for_the_tasks_it_names():
    from search.study import parse_study

    study = parse_study({"name": "s", "tasks": ["math", "api"], "models": [{"name": "m", "tiny": "s"}],
                         "mixtures": [{"name": "en", "languages": ["en"], "per_language": 512}],
                         "eval": {"max_new_tokens": {"math": 768}}})
    assert study.eval.budget("math") == 768 and study.eval.budget("api") == get_task("api").max_new_tokens


def test_a_budget_for_no_task_is_refused_and_one_for_a_task_left_out_is_ignored():
    from search.study import parse_study
    from training.errors import ConfigError

    study = {"name": "s", "tasks": ["math"], "models": [{"name": "m", "tiny": "s"}],
             "mixtures": [{"name": "en", "languages": ["en"], "per_language": 512}]}
    with pytest.raises(ConfigError, match=r"eval.max_new_tokens.maths: unknown task; use one of math, api"):
        parse_study({**study, "eval": {"max_new_tokens": {"maths": 64}}})
    # a study narrowed to math (--set tasks=[math]) keeps the api budget it no longer uses
    assert parse_study({**study, "eval": {"max_new_tokens": {"math": 64, "api": 32}}}).eval.budget("math") == 64


def test_a_stop_string_whose_characters_take_several_tokens_each_still_stops_the_answer(tokenizer):
    """Byte-level BPE cuts a character it has no entry for into its UTF-8 bytes: Japanese "問題：" is 3 characters
    and 9 tokens for this tokenizer (none of its corpus is Japanese). A window of characters + 2 tokens never holds the
    whole string, so decoding would run on to the budget; the window counts bytes, each token holds at least one."""
    stop = QUESTION["ja"]
    assert len(tokenizer(stop, add_special_tokens=False).input_ids) > len(stop) + 2
    model = scripted(tokenizer, "The answer is 18. " + stop + " Janet has 16 eggs. 1 2 3 4 5 6 7 8 9")
    out = generate(model, tokenizer, ["Q1"], max_new_tokens=40, stop=(stop,))
    assert out[0].finish == "stop" and out[0].text == "The answer is 18. "
    assert out[0].tokens == len(tokenizer("The answer is 18. " + stop, add_special_tokens=False).input_ids)
