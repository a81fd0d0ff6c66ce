"""Scorers of the summarization and instruction-following tasks on hand-written cases in five scripts (Latin,
Cyrillic, Han, Bengali, Thai): ROUGE-L worked out by hand, chrF, language fidelity, verifiable instructions."""

import pytest
from rouge_score import rouge_scorer

from evaluation.fidelity import detect_language, fidelity, is_faithful
from evaluation.instructions import check, problems
from evaluation.summarization import chrf, rouge_l
from evaluation.text import words


def test_words_in_every_script():
    assert words("El gato, ¡duerme!") == ["el", "gato", "duerme"]
    assert words("Кошка сидела на коврике.") == ["кошка", "сидела", "на", "коврике"]
    assert words("বিড়ালটি মাদুরের উপর বসেছিল।") == ["বিড়ালটি", "মাদুরের", "উপর", "বসেছিল"]  # vowel signs stay in
    assert words("猫坐在垫子上。") == ["猫", "坐", "在", "垫", "子", "上"]
    assert words("GPT模型") == ["gpt", "模", "型"]
    assert len(words("แมวนั่ง")) == 7  # Thai: one token per character (แ ม ว น ั ่ ง)


# (prediction, reference, F1 by hand: LCS words, P = LCS / |prediction|, R = LCS / |reference|)
ROUGE_CASES = [
    ("el gato duerme en casa", "el gato duerme en la casa", 10 / 11),          # LCS 5, P 1, R 5/6
    ("кошка спала на коврике", "кошка сидела на коврике", 0.75),               # LCS 3, P 3/4, R 3/4
    ("猫在垫子上", "猫坐在垫子上", 10 / 11),                                      # LCS 5 characters
    ("বিড়ালটি উপর বসেছিল", "বিড়ালটি মাদুরের উপর বসেছিল", 6 / 7),               # LCS 3, P 1, R 3/4
    ("แมว", "แมวนั่ง", 0.6),                                                  # LCS 3 characters, P 1, R 3/7
]


@pytest.mark.parametrize("prediction, reference, expected", ROUGE_CASES, ids=["latin", "cyrillic", "han", "bengali", "thai"])
def test_rouge_l_by_hand_in_five_scripts(prediction, reference, expected):
    assert rouge_l(prediction, reference) == pytest.approx(expected)
    assert rouge_l(reference, reference) == pytest.approx(1.0)


def test_rouge_score_default_tokenizer_would_score_non_latin_summaries_zero():
    default = rouge_scorer.RougeScorer(["rougeL"]).score("猫坐在垫子上", "猫在垫子上")["rougeL"].fmeasure
    assert default == 0.0 and rouge_l("猫在垫子上", "猫坐在垫子上") > 0.9


def test_chrf_ranks_closer_summaries_higher_in_every_script():
    for reference, close, far in [("кошка сидела на коврике", "кошка сидит на коврике", "собака бежит"),
                                  ("猫坐在垫子上", "猫在垫子上", "狗在跑"),
                                  ("বিড়ালটি মাদুরের উপর বসেছিল", "বিড়ালটি মাদুরে বসেছিল", "কুকুর দৌড়ায়")]:
        assert chrf(reference, reference) == pytest.approx(1.0)
        assert 1.0 > chrf(close, reference) > chrf(far, reference) >= 0.0


SENTENCES = {
    "en": "The cat sat on the mat and looked at the birds.", "es": "El gato se sentó en la alfombra.",
    "ja": "猫はマットの上に座った。", "zh": "猫坐在垫子上。", "bn": "বিড়ালটি মাদুরের উপর বসেছিল।",
    "sw": "Paka aliketi kwenye mkeka.", "te": "పిల్లి చాప మీద కూర్చుంది.", "fr": "Le chat était assis sur le tapis.",
    "de": "Die Katze saß auf der Matte.", "ru": "Кошка сидела на коврике.", "th": "แมวนั่งอยู่บนเสื่อ",
}


def test_language_detection_for_every_study_language():
    assert {lang: detect_language(text) for lang, text in SENTENCES.items()} == {lang: lang for lang in SENTENCES}


def test_a_summary_in_the_wrong_language_is_unfaithful():
    english_summary = "The president met the ministers on Monday to discuss the budget."
    spanish_reference = "El presidente se reunió el lunes con los ministros para hablar del presupuesto."
    assert is_faithful(english_summary, "es") is False and is_faithful(spanish_reference, "es") is True
    assert rouge_l(english_summary, spanish_reference) < 0.2
    assert is_faithful("42", "ru") is None  # a bare number has no language: not judged
    share, judged = fidelity([SENTENCES["ru"], SENTENCES["en"], "3.5", "Москва — столица России."], "ru")
    assert (share, judged) == (pytest.approx(2 / 3), 3)


def test_instruction_response_that_breaks_one_constraint():
    instructions = [{"kind": "bullets", "n": 2}, {"kind": "keywords", "words": ["Москва"]},
                    {"kind": "max_words", "n": 8}, {"kind": "language", "lang": None}]
    good = "- Москва большая\n- Москва древняя"
    too_long = "- Москва очень большой и красивый город\n- Москва древняя и шумная столица"
    assert check(good, instructions, "ru") == [True, True, True, True]
    assert check(too_long, instructions, "ru") == [True, True, False, True]  # 12 words > 8


def test_instructions_in_han_bengali_and_thai():
    # words: "json" (the fence's tag) and 城 市 北 京
    assert check('```json\n{"城市": "北京"}\n```', [{"kind": "json"}, {"kind": "max_words", "n": 5}], "zh") == [True, True]
    assert check('{"城市": "北京"', [{"kind": "json"}], "zh") == [False]
    english_answer = "Dhaka is the capital of Bangladesh."
    assert check(english_answer, [{"kind": "language"}, {"kind": "keywords", "words": ["Dhaka"]}], "bn") == [False, True]
    assert check("ঢাকা বাংলাদেশের রাজধানী।", [{"kind": "language"}, {"kind": "forbidden", "words": ["Dhaka"]}], "bn") == [True, True]
    # Thai has no spaces: the limit counts characters, so "กรุงเทพ" (7) passes 10 and fails 5
    assert check("กรุงเทพ", [{"kind": "max_words", "n": 10}, {"kind": "ends_with", "text": "เทพ"}], "th") == [True, True]
    assert check("กรุงเทพ", [{"kind": "max_words", "n": 5}], "th") == [False]
    assert problems([{"kind": "max_words", "n": 3}, {"kind": "rhyme"}, {"kind": "keywords", "words": None}]) == [
        "unknown instruction kind 'rhyme' (known: max_words, min_words, keywords, forbidden, bullets, json, ends_with, language)",
        "instruction 'keywords' needs 'words'"]
    assert check("Bonjour", [{"kind": "language", "lang": "fr"}], "en") == [True]  # an explicit answer language


def fake_generate(texts):
    from evaluation.generate import Generation

    return lambda model, tokenizer, prompts, max_new_tokens, batch_size, stop: [Generation(t, 7, "eos") for t in texts]


def test_evaluation_logs_score_task_metrics_and_fidelity_and_can_zero_wrong_language_answers(monkeypatch):
    import datasets

    import evaluation.evaluate as evaluate

    monkeypatch.setattr(evaluate, "generate", fake_generate(["El gato duerme en la casa.", "The cat sleeps in the house."]))
    rows = datasets.Dataset.from_list([{"id": f"s{i}", "text": "El gato duerme en la casa grande.",
                                        "summary": "El gato duerme en la casa."} for i in range(2)])
    results = evaluate.evaluate_languages(None, None, "summarization", {"es": rows})
    es = results["es"]
    english_rouge = rouge_l("The cat sleeps in the house.", "El gato duerme en la casa.")
    assert es["accuracy"] == pytest.approx((1.0 + english_rouge) / 2) and es["n"] == 2
    assert es["metrics"]["chrf"] == pytest.approx((1.0 + chrf("The cat sleeps in the house.", "El gato duerme en la casa.")) / 2)
    assert es["fidelity"] == 0.5 and [p["faithful"] for p in es["predictions"]] == [True, False]
    assert [(p["tokens"], p["finish"]) for p in es["predictions"]] == [(7, "eos"), (7, "eos")]
    sd = abs(1.0 - english_rouge) / 2 ** 0.5  # the sample standard deviation of the two scores
    assert es["sd"] == pytest.approx(sd)
    assert evaluate.language_metrics(results) == {"eval/chrf/es": es["metrics"]["chrf"], "eval/fidelity/es": 0.5,
                                                  "eval/fidelity_judged/es": 2, "eval/sd/es": es["sd"]}
    # The wrong-language penalty is instruction following's (the Post-trainer's Guide's); a summary keeps its ROUGE-L.
    kept = evaluate.evaluate_languages(None, None, "summarization", {"es": rows}, wrong_language_scores_zero=True)
    assert kept["es"]["accuracy"] == es["accuracy"]
    requests = datasets.Dataset.from_list([{"id": f"i{i}", "prompt": "Describe un gato en pocas palabras.",
                                            "response": "Un gato pequeño duerme.",
                                            "instructions": [{"kind": "max_words", "n": 20}]} for i in range(2)])
    free = evaluate.evaluate_languages(None, None, "instruction", {"es": requests})
    zeroed = evaluate.evaluate_languages(None, None, "instruction", {"es": requests}, wrong_language_scores_zero=True)
    assert free["es"]["accuracy"] == 1.0 and zeroed["es"]["accuracy"] == pytest.approx(0.5)  # the English answer counts 0


def test_an_instruction_without_a_verifiable_constraint_is_scored_by_chrf_in_its_language_not_by_its_language_alone():
    """Aya Dolly rows can only be checked for their language: scoring them pass/fail on it gave 1 to any Spanish
    answer, right or wrong. They score chrF to the reference, 0 in a wrong language."""
    from evaluation.scorers import scorer_for
    from training.tasks import get_task

    row = {"id": "dolly-7", "prompt": "¿Cuál es la capital de Francia?", "response": "La capital de Francia es París.",
           "instructions": [{"kind": "language", "n": None, "words": None, "text": None, "lang": None}]}
    score = scorer_for(get_task("instruction")).score
    right, wrong = score("La capital de Francia es París.", row, "es"), score("Me gustan mucho los perros grandes.", row, "es")
    english = score("The capital of France is Paris.", row, "es")
    assert right["acc"] == pytest.approx(1.0) and right["scored_by_chrf"] == 1.0
    assert 0 < wrong["acc"] < 0.3 and wrong["acc"] == pytest.approx(wrong["chrf"])  # in Spanish, but not the answer
    assert english["acc"] == 0.0 and english["chrf"] > 0  # the wrong language
    verifiable = {**row, "instructions": [{"kind": "max_words", "n": 3}]}
    assert score("París, claro.", verifiable, "es") == {"acc": 1.0, "instructions": 1.0, "scored_by_chrf": 0.0,
                                                        "chrf": pytest.approx(chrf("París, claro.", row["response"]))}
