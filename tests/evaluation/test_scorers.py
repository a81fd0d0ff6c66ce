from evaluation.evaluate import summarize
from evaluation.scorers import extract_number, parse_call, score_api, score_math


def test_math_right_wrong_unparsable():
    record = {"answer": "8"}
    assert score_math("5 + 3 = 8. The answer is 8.", record)
    assert score_math("5 + 3 = 8。答えは8です。", record)
    assert not score_math("5 + 3 = 9. The answer is 9.", record)
    assert not score_math("I do not know", record)
    assert extract_number("total 1,200 apples") == 1200.0
    assert score_math("La respuesta es 8.0", record)


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
