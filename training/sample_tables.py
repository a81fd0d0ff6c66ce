"""The template tables of the parallel sample data (:mod:`training.sample_data`), read from the JSON files of
``training/sample_templates/`` (package data; what each table holds and the placeholder syntax are in its README.md).

Each file is an object of table name -> table; every table is read once, at import, into a module constant of the
same name. JSON has no tuples: a pair such as a name and its gender, a (low, high) range or a (text, summary) pair is
a two-element list (the generator unpacks them, which works on lists alike).
"""

from __future__ import annotations

import json
from pathlib import Path

DATA_DIR = Path(__file__).with_name("sample_templates")

# file -> the tables it holds (in the order they appear in it)
FILES: dict[str, tuple[str, ...]] = {
    "names.json": ("NAMES", "NAME_FORMS"),
    "math.json": ("MATH_ANSWER", "MATH_TWO_STEP", "MATH_PROBLEMS"),
    "api.json": ("API_VALUES", "EMAIL_USERS", "USERNAMES", "STOCK_SYMBOLS", "CURRENCIES", "API_NAME_VERBS",
                 "API_NAME_NOUNS", "API_CATALOGUE"),
    "stories.json": ("STORIES",),
    "requests.json": ("FRUITS", "REQUESTS"),
}


def read(name: str, data_dir: str | Path = DATA_DIR) -> dict[str, object]:
    """The tables of one file of ``training/sample_templates/`` (a new task's own file is read this way)."""
    return json.loads((Path(data_dir) / name).read_text(encoding="utf-8"))


def load_tables(data_dir: str | Path = DATA_DIR) -> dict[str, object]:
    """Every table of :data:`FILES`, by name; a missing file or table, or an unexpected one, is an error naming it."""
    tables: dict[str, object] = {}
    for name, expected in FILES.items():
        path, content = Path(data_dir) / name, read(name, data_dir)
        if not isinstance(content, dict) or set(content) != set(expected):
            found = sorted(content) if isinstance(content, dict) else type(content).__name__
            raise ValueError(f"{path}: expected an object with the tables {', '.join(expected)}; found {found}")
        tables.update(content)
    return tables


_TABLES = load_tables()

# names.json: people, the same length and the same gender at each index in every language (f, m, f, m, ...);
# NAMES[lang][i] = [name, gender]; NAME_FORMS[lang][name] = {case: form} for {p_gen}, {p_dat}, ...
NAMES: dict[str, list[list[str]]] = _TABLES["NAMES"]
NAME_FORMS: dict[str, dict[str, dict[str, str]]] = _TABLES["NAME_FORMS"]

# math.json: the closing answer sentence, the generic two-step solution and the problems
MATH_ANSWER: dict[str, str] = _TABLES["MATH_ANSWER"]
MATH_TWO_STEP: dict[str, str] = _TABLES["MATH_TWO_STEP"]
MATH_PROBLEMS: list[dict] = _TABLES["MATH_PROBLEMS"]

# api.json: parallel value tables, language-independent values and the API catalogue
API_VALUES: dict[str, dict[str, list[str]]] = _TABLES["API_VALUES"]
EMAIL_USERS: list[str] = _TABLES["EMAIL_USERS"]
USERNAMES: list[str] = _TABLES["USERNAMES"]
STOCK_SYMBOLS: list[str] = _TABLES["STOCK_SYMBOLS"]
CURRENCIES: list[str] = _TABLES["CURRENCIES"]
# words a train API's fresh name is made of (training.tasks.api), none a word of a validation or test API's name
API_NAME_VERBS: list[str] = _TABLES["API_NAME_VERBS"]
API_NAME_NOUNS: list[str] = _TABLES["API_NAME_NOUNS"]
API_CATALOGUE: list[dict] = _TABLES["API_CATALOGUE"]

# stories.json: summarization, STORIES[i][lang] = [text, summary]
STORIES: list[dict[str, list[str]]] = _TABLES["STORIES"]

# requests.json: instruction following, FRUITS for {items}, REQUESTS[i][lang] = [prompt, response(, word)]
FRUITS: dict[str, list[str]] = _TABLES["FRUITS"]
REQUESTS: list[dict] = _TABLES["REQUESTS"]
