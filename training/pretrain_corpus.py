"""The synthetic multilingual corpus the tiny base models are pre-trained on (``training.pretrain``).

What a small model needs before SFT can teach it the tasks (docs/tiny_bases.md): to copy from its prompt by content
(an induction circuit), to bind a value to a key and recall it, to write a call to a function it has only seen
defined, to do the arithmetic the math solutions write down, and to have read every script of the 11 languages.
Each document is a list of ``(text, scored)`` segments: the loss falls only on the scored ones, the positions a
model can predict from what came before (the copy, the recalled value, the result), which is what makes copying
start within a few thousand steps on a CPU.

Kinds of document:
- ``copy``: a span of 3-10 words, a gap of other words, the span again (scored after its first word), with nothing
  marking either: copying by content, the induction circuit;
- ``characters``: the same with made-up identifiers (pieces of real words in new orders, or random characters of
  every script), which the tokenizer cuts into arbitrary small pieces (copying an unseen name is copying such pieces);
- ``recall``: key: value pairs, then one key asked again and its value (scored);
- ``call``: a function with a random CamelCase name and keys (made of words of the prose, or made up) is defined,
  its values are given among random words, then the call ``Name(key='value', ...)`` (scored) - a shape unlike the API
  task's prompt, so the base does not already solve the task in every language;
- ``arithmetic``: chained statements ``a + b = c`` with results in 1..100 (results scored);
- ``text``: prose in all 11 languages, from the training splits of the summarization and instruction sample data
  (all scored), never from the math or API tasks the smoke study fine-tunes on.

Every random draw comes from ``random.Random(f"{seed}-{index}")``: document ``index`` is the same whatever was
generated before it, so a resumed pre-training sees exactly the documents it would have seen. No document holds an
evaluation item: ``leaks`` checks the corpus against every validation and test row of the sample data.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

Segment = tuple[str, bool]  # (text, whether the loss is computed on it)
Document = list[Segment]

TEXT_TASKS = ("summarization", "instruction")  # the tasks whose training prose the corpus reads
KINDS = ("copy", "characters", "recall", "call", "arithmetic", "text")
# Shares of the kinds: copying first (the circuit every other kind builds on), prose enough that every script's
# tokens are seen as inputs, arithmetic for the math solutions.
WEIGHTS = (0.15, 0.25, 0.1, 0.2, 0.12, 0.18)

# Letters of each script, to make words that mean nothing in any language: names and values the model must copy
# rather than recall.
_SCRIPTS: dict[str, tuple[str, str]] = {  # script → (consonants, vowels) or (characters, "")
    "latin": ("bcdfghklmnprstvz", "aeiou"),
    "cyrillic": ("бвгдзклмнпрстф", "аеиоу"),
    "bengali": ("কখগচজতদনপবমরলস", "\u09be\u09bf\u09c1\u09c7"),
    "telugu": ("కగచజటడతదనపబమరల", "\u0c3e\u0c3f\u0c41\u0c46"),
    "thai": ("กขคงจชดตนบปมยรลวสห", "\u0e30\u0e32\u0e34\u0e38"),
    "kana": ("あいうえおかきくけこさしすせそたちつてとなにぬねのまみむめもらりるれろ", ""),
    "han": ("日月山川水火木金土天人口大小中上下年生出入本文字田力目手足石竹米糸", ""),
}


def random_word(rng: random.Random, script: str | None = None) -> str:
    script = script or rng.choice(list(_SCRIPTS))
    consonants, vowels = _SCRIPTS[script]
    if not vowels:
        return "".join(rng.choice(consonants) for _ in range(rng.randint(1, 4)))
    return "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(1, 3)))


def could_be_drawn(value: str) -> bool:
    """Whether the corpus's own draws can make ``value`` by chance: :func:`random_word` (1-3 Latin consonant-vowel
    syllables) or :func:`random_value`'s clock times, which are every minute of the day."""
    consonants, vowels = _SCRIPTS["latin"]
    made_up = re.fullmatch(f"([{consonants}][{vowels}]){{1,3}}", value) is not None
    return made_up or re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value) is not None


def random_value(rng: random.Random, pool: list[str]) -> str:
    """A value as API arguments carry them: a word of any script, a number, a date, a time or a code."""
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randint(1, 9999))
    if kind == 1:
        return f"{rng.randint(2025, 2031)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == 2:
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    if kind == 3:
        return f"{random_word(rng, 'latin').upper()[:3]}-{rng.randint(100, 99999)}"
    return " ".join(_words(rng, pool, rng.randint(1, 2)))


def _latin(rng: random.Random, pool: list[str]) -> str:
    """A lower-case Latin-script word: mostly one of the prose's (so names are made of the pieces real identifiers
    are made of), else made up."""
    latin = [word for word in pool if word.isascii() and word.isalpha() and 3 <= len(word) <= 10]
    return rng.choice(latin).lower() if latin and rng.random() < 0.7 else random_word(rng, "latin")


def camel_name(rng: random.Random, pool: list[str]) -> str:
    return "".join(_latin(rng, pool).capitalize() for _ in range(rng.randint(2, 3)))


def snake_key(rng: random.Random, pool: list[str]) -> str:
    return "_".join(_latin(rng, pool) for _ in range(rng.randint(1, 2)))


def _words(rng: random.Random, pool: list[str], n: int) -> list[str]:
    """``n`` filler words: half from real prose (so the copy happens inside text that reads like a language), half
    made up."""
    return [rng.choice(pool) if pool and rng.random() < 0.5 else random_word(rng) for _ in range(n)]


def repeat(lead: list[str], span: list[str], gap: list[str]) -> Document:
    """``lead span gap span``, the loss on the repeat after its first unit. No marker says where the span begins or
    where it comes again: only an induction circuit (find where the current token occurred before, predict what
    followed it) predicts the repeat, and that circuit copies any name from any prompt. (With the span quoted,
    «span» … | «span», the first bases learnt to count from the quote instead and copied nothing else.) The first unit
    of the repeat is not scored: nothing announces it. Units are joined by spaces, so each is tokenised as in the
    first occurrence."""
    return [(" ".join([*lead, *span, *gap, span[0]]), False), (" " + " ".join(span[1:]), True)]


def copy_document(rng: random.Random, pool: list[str]) -> Document:
    return repeat(_words(rng, pool, rng.randint(0, 6)), _words(rng, pool, rng.randint(3, 10)),
                  _words(rng, pool, rng.randint(0, 12)))


def characters_document(rng: random.Random, pool: list[str]) -> Document:
    """A copy of made-up identifiers, which the tokenizer cuts into arbitrary sequences of small pieces: what copying
    an unseen name ("SetThermostat" → Se, t, Th, erm, ...) asks for, induction over any tokens. Half of them are
    made of pieces of real words in orders no language has ("ThermRateos"), so that the copy must follow the context
    against what the language predicts after each piece (the first bases wrote "SetThankedostat"); the others are runs
    of random characters of one script or of all of them."""
    mode = rng.random()
    if mode < 0.5:
        span = [_fragments(rng, pool) for _ in range(rng.randint(2, 4))]
    else:
        if mode < 0.75:  # one script (Latin in either case, half the time)
            consonants, vowels = _SCRIPTS[rng.choice(("latin", "latin", *_SCRIPTS))]
            letters = consonants + vowels + (consonants + vowels).upper()
        else:
            letters = "".join(c + v for c, v in _SCRIPTS.values()) + "ABCDEFGHKLMNPRSTZ0123456789"
        span = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(rng.randint(2, 4))]
    return repeat(_words(rng, pool, rng.randint(0, 4)), span, _words(rng, pool, rng.randint(0, 10)))


def _fragments(rng: random.Random, pool: list[str]) -> str:
    """2-4 pieces (2-5 characters) of words of the prose, each capitalised half the time, joined: mostly Latin, as
    API names and keys are."""
    words = [word for word in pool if word.isascii() and len(word) >= 3] if rng.random() < 0.6 else pool
    pieces = []
    for _ in range(rng.randint(2, 4)):
        word = rng.choice(words)
        start = rng.randrange(max(len(word) - 1, 1))
        piece = word[start:start + rng.randint(2, 5)]
        pieces.append(piece.capitalize() if rng.random() < 0.5 else piece)
    return "".join(pieces)


def recall_document(rng: random.Random, pool: list[str]) -> Document:
    keys = list(dict.fromkeys(snake_key(rng, pool) for _ in range(rng.randint(2, 6))))
    values = {key: random_value(rng, pool) for key in keys}
    asked = rng.choice(keys)
    facts = "; ".join(f"{key}: {values[key]}" for key in keys)
    return [(f"{facts}\n{asked}:", False), (f" {values[asked]}", True)]


# How a definition and a call are written: several shapes (none of them the API task's), so that what is learnt is
# calling what was defined, not one format.
_DEFINITIONS = ("def {name}({keys}): {purpose}", "{name}({keys}): {purpose}", "function {name}({keys}) - {purpose}")
_CALLS = (">>> ", "call: ", "=> ")


def call_document(rng: random.Random, pool: list[str]) -> Document:
    name = camel_name(rng, pool)
    keys = list(dict.fromkeys(snake_key(rng, pool) for _ in range(rng.randint(1, 3))))
    values = {key: random_value(rng, pool) for key in keys}
    purpose = " ".join(_words(rng, pool, rng.randint(2, 6)))
    # Each value among filler words, often beside its key's words ("for 2 passengers", "product P-9902").
    mentions = [" ".join(_words(rng, pool, rng.randint(0, 3)) + _beside(rng, values[key], key.replace("_", " ")))
                for key in keys]
    tail = " ".join(_words(rng, pool, rng.randint(0, 3)))
    call = f"{name}({', '.join(f'{key}=' + repr_value(values[key]) for key in keys)})"
    definition = rng.choice(_DEFINITIONS).format(name=name, keys=", ".join(keys), purpose=purpose)
    request = " ".join(part for part in (*mentions, tail) if part)
    return [(f"{definition}\n{request}\n{rng.choice(_CALLS)}", False), (call, True)]


def _beside(rng: random.Random, value: str, key_words: str) -> list[str]:
    return rng.choice(([value], [key_words, value], [value, key_words]))


def repr_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def arithmetic_document(rng: random.Random, pool: list[str]) -> Document:
    """Statements whose results stay in 1..100, as the math solutions' do; each may start from the last result."""
    segments: Document = []
    result = None
    for _ in range(rng.randint(2, 5)):
        while True:
            a = result if result is not None and rng.random() < 0.5 else rng.randint(1, 99)
            op = rng.choice("+-×")
            b = rng.randint(1, 12) if op == "×" else rng.randint(1, 99)
            value = a + b if op == "+" else a - b if op == "-" else a * b
            if 1 <= value <= 100:
                break
        segments += [(f"{a} {op} {b} =", False), (f" {value}", True), (". ", False)]
        result = value
    return segments


def text_document(rng: random.Random, texts: list[str]) -> Document:
    return [(rng.choice(texts), True)]


def document(seed: int, index: int, texts: list[str], pool: list[str]) -> tuple[str, Document]:
    """The ``index``-th document of the corpus of ``seed``, and its kind."""
    rng = random.Random(f"polymix-pretrain-{seed}-{index}")
    kind = rng.choices(KINDS, WEIGHTS)[0]
    if kind == "text":
        return kind, text_document(rng, texts)
    make = {"copy": copy_document, "characters": characters_document, "recall": recall_document,
            "call": call_document, "arithmetic": arithmetic_document}[kind]
    return kind, make(rng, pool)


def documents(seed: int, start: int, count: int, texts: list[str], pool: list[str]) -> Iterator[Document]:
    for index in range(start, start + count):
        yield document(seed, index, texts, pool)[1]


# --------------------------------------------------------------------------------------- the prose it reads
def _fields(task: str, row: dict) -> list[str]:
    if task == "summarization":
        return [row["text"], row["summary"]]
    return [row["prompt"], row["response"]]


def training_prose(sample_dir: str | Path) -> list[str]:
    """Every training-split text of :data:`TEXT_TASKS`, in all languages (sorted: the corpus does not depend on the
    order files are listed in)."""
    texts = []
    for path in sorted(Path(sample_dir).glob("*/*/train.jsonl")):
        task = path.parts[-3]
        if task in TEXT_TASKS:
            for line in path.read_text(encoding="utf-8").splitlines():
                texts.extend(_fields(task, json.loads(line)))
    return sorted(set(texts))


_WORD = re.compile(r"\w+", re.UNICODE)
# Han, kana and Thai are written without spaces: a "word" of theirs is cut into pieces of at most 3 characters.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\u0e00-\u0e7f]")


def word_pool(texts: Iterable[str]) -> list[str]:
    words = set()
    for text in texts:
        for word in _WORD.findall(text):
            if word.isdigit():
                continue
            if _UNSPACED.search(word):
                words.update(word[i:i + 3] for i in range(0, len(word), 3))
            else:
                words.add(word)
    return sorted(words)


# -------------------------------------------------------------------------------------------- disjointness
def evaluation_items(sample_dir: str | Path) -> dict[str, set[str]]:
    """What no pre-training document may contain, from the sample data's validation and test rows (every task and
    language): their prompts' distinctive content (a math question, an API request, a summary), the names of APIs
    that only evaluation calls, and the argument values of 4 or more characters that no training row has (a shorter
    value, '21' or 'ja', is a common string, not an item)."""
    sample_dir = Path(sample_dir)
    items: dict[str, set[str]] = {"prompt": set(), "api_name": set(), "api_value": set()}
    train_apis, train_values = set(), set()
    for path in sorted(sample_dir.glob("api/*/train.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            train_apis.add(row["api_name"])
            train_values.update(row["arguments"].values())
    for split in ("validation", "test"):
        for path in sorted(sample_dir.glob(f"*/*/{split}.jsonl")):
            task = path.parts[-3]
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if task == "api":
                    items["prompt"].add(row["request"])
                    items["api_name"].add(row["api_name"])
                    items["api_value"].update(value for value in row["arguments"].values() if len(value) >= 4)
                elif task == "math":
                    items["prompt"].add(row["question"])
                elif task == "summarization":
                    items["prompt"].update((row["text"], row["summary"]))
                else:
                    items["prompt"].update((row["prompt"], row["response"]))
    items["api_name"] -= train_apis
    items["api_value"] -= train_values
    # A short answer that training rows hold too (an instruction's '{"age": 28}') identifies no evaluation item.
    for path in sorted(sample_dir.glob("*/*/train.jsonl")):
        task = path.parts[-3]
        if task in TEXT_TASKS:
            items["prompt"] -= {text for line in path.read_text(encoding="utf-8").splitlines()
                                for text in _fields(task, json.loads(line))}
    return items


def leaks(corpus_texts: Iterable[str], items: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(kind, item) for every evaluation item found in a corpus text: a prompt or summary as one of its lines (or
    segments), an API name or value as one of its words (so that the value '21' is not "found" in '2021'), a value of
    several words anywhere in it."""
    lines, words = set(), set()
    for text in corpus_texts:
        lines.update(part.strip() for part in re.split(r"\n|\| |>>> |call: |=> ", text))
        lines.add(text.strip())
        words.update(re.findall(r"[\w'@.:-]+", text))
    joined = "\n".join(lines)
    found = [("prompt", item) for item in items["prompt"] if item.strip() in lines]
    for kind in ("api_name", "api_value"):
        found += [(kind, item) for item in items[kind] if (item in joined if " " in item else item in words)]
    return sorted(found)
