import pytest

from search.mixtures.allocation import capped_counts, natural, temperature, uniform, unimax
from training.errors import ConfigError

AVAILABLE = {"en": 10000, "es": 5000, "ja": 2000, "sw": 300, "bn": 100}


@pytest.mark.parametrize("allocate", [natural, temperature, unimax])
@pytest.mark.parametrize("total", [5, 1234, 7000, 17400])
def test_allocations_are_exact_and_capped(allocate, total):
    counts = allocate(AVAILABLE, total)
    assert sum(counts.values()) == total
    assert all(0 <= counts[lang] <= AVAILABLE[lang] for lang in AVAILABLE)


def test_uniform_splits_evenly():
    assert uniform(AVAILABLE, 500) == {lang: 100 for lang in AVAILABLE}
    counts = uniform({"a": 1000, "b": 1000, "c": 1000}, 302)
    assert sorted(counts.values()) == [100, 101, 101]


def test_natural_is_proportional_to_data():
    assert natural({"a": 300, "b": 100}, 200) == {"a": 150, "b": 50}


def test_temperature_flattens_towards_uniform():
    avail = {"a": 8100, "b": 100}
    t1, t2 = temperature(avail, 1000, temperature=1.0), temperature(avail, 1000, temperature=2.0)
    assert t1 == natural(avail, 1000)
    assert t2 == {"a": 900, "b": 100}  # √8100 : √100 = 90 : 10


def test_unimax_caps_small_languages_and_redistributes():
    counts = unimax(AVAILABLE, 10000)
    assert counts["bn"] == 100 and counts["sw"] == 300  # one epoch of each
    assert counts["ja"] == 2000  # 9600 / 3 = 3200 > 2000: capped too
    assert counts["en"] == counts["es"] == 3800  # leftovers split evenly among the large ones
    assert unimax(AVAILABLE, 10000, max_epochs=2.0)["bn"] == 200


def test_capped_counts_water_fills():
    assert capped_counts({"a": 1.0, "b": 1.0, "c": 2.0}, 100, {"a": 10, "b": 100, "c": 100}) == {"a": 10, "b": 30, "c": 60}


@pytest.mark.parametrize("call, message", [
    (lambda: unimax({"en": 100, "sw": 0}, 50), "'sw' has 0 examples available"),
    (lambda: unimax(AVAILABLE, 3), "below one example per language"),
    (lambda: natural(AVAILABLE, 20000), "exceeds the 17400 available"),
    (lambda: uniform(AVAILABLE, 1000), "use UniMax"),
    (lambda: temperature(AVAILABLE, 100, temperature=0), "temperature=0 must be positive"),
    (lambda: unimax({}, 10), "no languages given"),
])
def test_bad_allocation_input_is_a_clear_error(call, message):
    with pytest.raises(ConfigError, match=message):
        call()
