import pytest

from evaluation.evaluate import summarize
from evaluation.scorers import parse_call, score_api, score_math
from training.answers import extract_number


def test_math_right_wrong_unparsable():
    record = {"answer": "8"}
    assert score_math("5 + 3 = 8. The answer is 8.", record)
    assert score_math("5 + 3 = 8。答えは8です。", record)
    assert not score_math("5 + 3 = 9. The answer is 9.", record)
    assert not score_math("I do not know", record)
    assert extract_number("total 1,200 apples") == 1200.0
    assert score_math("La respuesta es 8.0", record)


@pytest.mark.parametrize("text, lang, number", [
    ("2,5", "es", 2.5), ("1.250", "es", 1250), ("1.234.567,5", "de", 1234567.5), ("-3,5 grados", "de", -3.5),
    ("1 000", "fr", 1000), ("12 345", "ru", 12345), ("2,5", "ru", 2.5), ("La respuesta es 8.0", "es", 8.0),
    ("es 1.5", "es", 1.5),  # a period that cannot group thousands is a decimal point, even where "." groups
    ("1,250", "en", 1250), ("1.250", "en", 1.25), ("1,234,567.5", "en", 1234567.5), ("1\u00a0000", "en", 1000),
    ("1 000", "en", 0),  # en does not group with a plain space: two numbers, the last is 000
    ("1,00,000", "bn", 100000), ("১২", "bn", 12), ("１２", "ja", 12), ("entre 2 y 3", "es", 3), ("5, 6", "en", 6),
])
def test_numbers_are_read_as_the_language_writes_them(text, lang, number):
    """docs/validity.md: "2,5" is 2.5 and "1.250" is 1250 in es, de, fr and ru; dropping commas and reading every
    period as a decimal point (the earlier rule) made 25 and 1.25 of them, an error only those languages paid."""
    assert extract_number(text, lang) == number


def test_math_is_scored_in_the_completions_language():
    assert score_math("La respuesta es 2,5", {"answer": "2.5"}, "es")
    assert score_math("Die Antwort ist 1.250", {"answer": "1250"}, "de")
    assert not score_math("The answer is 1.250", {"answer": "1250"}, "en")
    # English digits in a comma-decimal language (as machine-translated training data keeps them): either reading
    assert score_math("La respuesta es 1,000", {"answer": "1000"}, "es") and score_math("Es 1,5", {"answer": "1.5"}, "es")
    assert not score_math("Il y a 1 000 pommes", {"answer": "0"}, "fr")  # space grouping has one reading
    assert not score_math("উত্তর 1,00,000", {"answer": "0"}, "bn")  # bn groups like en: no second reading


def test_a_response_with_no_number_or_no_call_is_counted_as_unparsed():
    from evaluation.scorers import SCORERS

    math, api = SCORERS["numeric_answer"].score, SCORERS["api_call"].score
    assert math("I do not know", {"answer": "8"}, "en") == {"acc": 0.0, "unparsed": 1.0}
    assert math("The answer is 9.", {"answer": "8"}, "en") == {"acc": 0.0, "unparsed": 0.0}  # wrong, not unparsed
    assert math("答えは８です", {"answer": "8"}, "ja") == {"acc": 1.0, "unparsed": 0.0}
    call = {"call": "GetWeather(city='Nairobi')"}
    assert api("GetWeather(city=", call, "en") == {"acc": 0.0, "unparsed": 1.0}
    assert api("GetWeather(city='Mombasa')", call, "en") == {"acc": 0.0, "unparsed": 0.0}


def test_api_exact_match():
    record = {"call": "GetWeather(city='Nairobi', date='2024-05-01')"}
    assert score_api("GetWeather(city='Nairobi', date='2024-05-01')\nmore text", record)
    assert score_api("GetWeather(date='2024-05-01', city='Nairobi')", record)  # argument order is free
    assert not score_api("GetWeather(city='Mombasa', date='2024-05-01')", record)  # wrong value
    assert not score_api("GetWeather(city='Nairobi')", record)  # missing argument
    assert not score_api("GetForecast(city='Nairobi', date='2024-05-01')", record)  # wrong API
    assert not score_api("GetWeather(city='Nairobi', date=", record)  # unparsable
    assert parse_call("東京の天気 GetWeather(city='東京')") == ("GetWeather", {"city": "東京"})


def test_summarize_seen_unseen():
    summary = summarize({"en": 0.5, "es": 0.3, "ja": 0.1}, trained=["en", "es"])
    assert summary["eval/avg_seen"] == 0.4
    assert summary["eval/avg_unseen"] == 0.1
    assert summary["eval/acc/ja"] == 0.1
