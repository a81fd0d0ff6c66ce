"""How a training example becomes model inputs: loss on the target only, and what a too-long example keeps."""

from types import SimpleNamespace

from training.sft import tokenize


class CharTokenizer:
    """One id per character (BOS 1, EOS 2): lengths are the strings' lengths, so the arithmetic is visible."""

    eos_token_id = 2

    def __call__(self, text, add_special_tokens=True):
        return SimpleNamespace(input_ids=([1] if add_special_tokens else []) + [ord(c) for c in text])


def test_an_example_that_fits_keeps_every_token_and_masks_the_prompt():
    out = tokenize(CharTokenizer(), "Q: 2+3?", "5", 64)
    assert out["input_ids"] == [1, *map(ord, "Q: 2+3?"), ord("5"), 2]
    assert out["labels"] == [-100] * 8 + [ord("5"), 2]


def test_a_long_target_after_a_short_prompt_is_cut_at_the_end_as_before():
    out = tokenize(CharTokenizer(), "Q?", "x" * 50, 20)
    assert len(out["input_ids"]) == 20 and out["input_ids"][:3] == [1, ord("Q"), ord("?")]
    assert out["labels"][3:] == [ord("x")] * 17


def test_a_long_article_loses_its_middle_not_the_summary_nor_the_instruction_and_cue():
    prompt = "Summarize:" + "a" * 300 + "Summary:"
    out = tokenize(CharTokenizer(), prompt, "short summary", 64)
    target = [*map(ord, "short summary"), 2]
    assert len(out["input_ids"]) == 64 and out["input_ids"][-len(target):] == target
    assert out["labels"] == [-100] * (64 - len(target)) + target
    kept_prompt = "".join(chr(i) for i in out["input_ids"][1:64 - len(target)])
    assert kept_prompt.startswith("Summariz") and kept_prompt.endswith("aSummary:")  # head and cue survive
