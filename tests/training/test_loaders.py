"""Real-dataset loaders on small local files written in each publisher's exact layout (no network)."""

import json

import pytest

from training.errors import DataError
from training.loaders import read_mapicall_bank, read_mcot_math, read_mgsm
from training.preparation import prepare_sources
from training.sources import load_parallel

MGSM = {  # the first MGSM problem; the answer column is a bare number, as in mgsm_{lang}.tsv
    "en": ["Janet’s ducks lay 16 eggs per day. She eats three for breakfast. How much does she make?\t18",
           "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total?\t3"],
    "bn": ["জ্যানেটের হাঁসগুলি প্রতিদিন 16টি করে ডিম পাড়ে। তিনি কত ডলার উপার্জন করেন?\t18",
           "একটি আলখাল্লার জন্য 2টি নীল ফাইবার এবং তার অর্ধেক সাদা ফাইবার লাগে। মোট কতগুলি লাগে?\t3"],
    "ja": ["ジャネットのアヒルは1日に16個の卵を産みます。彼女は毎日いくら稼ぎますか？\t18",
           "ローブを作るには青い繊維が2反、白い繊維がその半分必要です。全部で何反必要ですか？\t1,003"],
}


def write_mgsm(root, rows=MGSM):
    root.mkdir(parents=True, exist_ok=True)
    for lang, lines in rows.items():
        (root / f"mgsm_{lang}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def mcot_rows(n=6, langs=("en", "es", "sw")):
    text = {"en": ("Tom has {a} apples and buys {b} more. How many?", "Tom starts with {a}. {a} + {b} = {c}. The answer is {c}."),
            "es": ("Tom tiene {a} manzanas y compra {b} más. ¿Cuántas?", "Tom empieza con {a}. {a} + {b} = {c}. La respuesta es {c}."),
            "sw": ("Tom ana tufaha {a} na ananunua {b} zaidi. Ngapi?", "Tom anaanza na {a}. {a} + {b} = {c}. Jibu ni {c}.")}
    rows = []
    for i in range(n):
        a, b = i + 2, 3 * i + 1
        for lang in langs:
            question, answer = text[lang]
            rows.append({"lang-id": f"{lang}-{i}", "lang": lang, "question": question.format(a=a, b=b),
                         "answer": answer.format(a=a, b=b, c=a + b)})
    return rows


def api_record(i, api, lang_text):
    doc = json.dumps({"name": api, "description": "…", "input_parameters": {"city": {"type": "str"}}})
    return {"file": f"{api}-level-1-1.jsonl", "id": i,
            "instruction": "\nGenerate an API request in the format of [ApiName(key1='value1', ...)] based on the previous "
                           f"dialogue context.\nExpected output:\nAPI-Request: [ApiName(key1='value1', ...)]\n\nAPI descriptions:\n{doc}",
            "input": f"User: {lang_text}\nGenerate API Request:\n",
            "expected_output": f"API-Request: [{api}(city='Nairobi')]"}


def write_mapicall(root, train_apis=("GetWeather", "BookHotel"), test_apis=("QueryStock",)):
    text = {"en": "What is the weather in Nairobi?", "sw": "Hali ya hewa ikoje Nairobi?", "ja": "ナイロビの天気は？"}
    for lang, sentence in text.items():
        (root / lang).mkdir(parents=True, exist_ok=True)
        train = [api_record(i, api, sentence) for i, api in enumerate(train_apis * 3)]
        (root / lang / "train.json").write_text(json.dumps(train, ensure_ascii=False, indent=1), encoding="utf-8")
        test = "".join(json.dumps(api_record(i, api, sentence), ensure_ascii=False) + "\n" for i, api in enumerate(test_apis))
        (root / lang / "test.jsonl").write_text(test, encoding="utf-8")
    return root


def test_mgsm_rows_are_parallel_by_line(tmp_path):
    rows = read_mgsm(str(write_mgsm(tmp_path / "mgsm")), ["en", "bn", "ja"])
    assert [r["id"] for r in rows["bn"]] == ["mgsm-0001", "mgsm-0002"] == [r["id"] for r in rows["en"]]
    assert rows["bn"][0]["answer"] == "18" and rows["bn"][0]["question"].startswith("জ্যানেটের")
    assert rows["ja"][1]["answer"] == "1003"  # thousands separator dropped, as MGSM's own reader does


@pytest.mark.parametrize("line, message", [
    ("a question without its answer", r"mgsm_en.tsv: line 2: 1 column\(s\); MGSM rows are question<TAB>answer number"),
    ("How many?\teighteen", r"mgsm_en.tsv: line 2, column 2: 'eighteen' is not a number"),
])
def test_mgsm_malformed_rows_name_file_line_and_column(tmp_path, line, message):
    root = write_mgsm(tmp_path / "mgsm", {"en": [MGSM["en"][0], line]})
    with pytest.raises(DataError, match=message):
        read_mgsm(str(root), ["en"])


def test_mgsm_missing_language_file(tmp_path):
    with pytest.raises(DataError, match=r"mgsm_sw.tsv: not found"):
        read_mgsm(str(write_mgsm(tmp_path / "mgsm")), ["en", "sw"])


def test_mcot_math_json_array_and_jsonl(tmp_path):
    array = tmp_path / "mcot_math.json"
    array.write_text(json.dumps(mcot_rows(), ensure_ascii=False), encoding="utf-8")
    rows = read_mcot_math(str(tmp_path), ["en", "sw"])
    assert len(rows["en"]) == len(rows["sw"]) == 6 and "es" not in rows
    assert rows["sw"][2] == {"id": "2", "question": "Tom ana tufaha 4 na ananunua 7 zaidi. Ngapi?",
                             "solution": "Tom anaanza na 4. 4 + 7 = 11. Jibu ni 11.", "answer": "11"}
    lines = tmp_path / "flat.jsonl"
    lines.write_text("".join(json.dumps({**r, "id": r["lang-id"].split("-")[1]}) + "\n" for r in mcot_rows()))
    assert read_mcot_math(str(lines), ["es"])["es"][0]["answer"] == "3"


def test_mcot_math_errors_name_file_line_row_and_column(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(mcot_rows()[0]) + "\n" + '{"lang": "en", "question": "x", answer: 3}\n')
    with pytest.raises(DataError, match=r"broken.jsonl: line 2, column 33: malformed JSON"):
        read_mcot_math(str(broken), ["en"])
    no_answer = tmp_path / "no_answer.json"
    no_answer.write_text(json.dumps([{"lang-id": "en-0", "lang": "en", "question": "x", "answer": ""}]))
    with pytest.raises(DataError, match=r"no_answer.json: row 1: column 'answer' is missing or empty"):
        read_mcot_math(str(no_answer), ["en"])
    no_id = tmp_path / "no_id.json"
    no_id.write_text(json.dumps([{"lang": "en", "question": "x", "answer": "1"}]))
    with pytest.raises(DataError, match=r"no_id.json: row 1: no 'id' or 'lang-id'"):
        read_mcot_math(str(no_id), ["en"])


def test_mapicall_bank_reads_api_bank_level1_records(tmp_path):
    rows = read_mapicall_bank(str(write_mapicall(tmp_path / "mapi")), ["sw", "ja"], "train")
    first = rows["sw"][0]
    assert first["id"] == "GetWeather-level-1-1.jsonl:0"
    assert first["call"] == "GetWeather(city='Nairobi')"
    assert first["request"] == "User: Hali ya hewa ikoje Nairobi?"
    assert json.loads(first["api_doc"])["name"] == "GetWeather"
    assert [r["id"] for r in rows["ja"]] == [r["id"] for r in rows["sw"]]


def test_mapicall_bank_bad_target_names_row_and_column(tmp_path):
    root = write_mapicall(tmp_path / "mapi")
    records = json.loads((root / "en" / "train.json").read_text())
    records[3]["expected_output"] = "I will call the weather API"
    (root / "en" / "train.json").write_text(json.dumps(records))
    with pytest.raises(DataError, match=r"en/train.json: row 4: column 'expected_output' is 'I will call the weather API'"):
        read_mapicall_bank(str(root), ["en"], "train")


def test_prepare_sources_writes_the_polymix_layout(tmp_path):
    write_mgsm(tmp_path / "mgsm", {lang: MGSM["en"] for lang in ("en", "es", "sw")})
    (tmp_path / "mcot").mkdir()
    (tmp_path / "mcot" / "mcot_math.json").write_text(json.dumps(mcot_rows(n=10), ensure_ascii=False))
    sources = {"math": {"train": {"format": "mcot_math", "path": str(tmp_path / "mcot"), "file": None},
                        "test": {"format": "mgsm", "path": str(tmp_path / "mgsm"), "file": None}, "validation_size": 3}}
    data_dir = prepare_sources(sources, ["en", "sw"], ["en", "es", "sw"], tmp_path / "cache")
    train = load_parallel(data_dir, "math", "train", ["en", "sw"])
    validation = load_parallel(data_dir, "math", "validation", ["en", "sw"])
    test = load_parallel(data_dir, "math", "test", ["en", "es", "sw"])
    assert len(train["sw"]) == 7 and len(validation["sw"]) == 3 and len(test["es"]) == 2
    assert not set(train["en"]["id"]) & set(validation["en"]["id"])
    assert prepare_sources(sources, ["sw", "en"], ["en", "es", "sw"], tmp_path / "cache") == data_dir  # converted once


def test_misaligned_translations_are_counted(tmp_path):
    rows = [r for r in mcot_rows(n=5) if r["lang-id"] not in ("sw-1", "sw-3")]
    (tmp_path / "mcot_math.json").write_text(json.dumps(rows))
    sources = {"math": {"train": {"format": "mcot_math", "path": str(tmp_path), "file": None},
                        "test": {"format": "mgsm", "path": str(write_mgsm(tmp_path / "mgsm")), "file": None},
                        "validation_size": 1}}
    with pytest.raises(DataError, match=r"mcot_math.json: the languages are not aligned \(en 5, sw 3 rows\)"):
        prepare_sources(sources, ["en", "sw"], ["en"], tmp_path / "cache")
    assert not list((tmp_path / "cache" / "data").glob("prepared-*"))  # nothing half-written left behind


def test_api_train_and_test_must_not_share_apis(tmp_path):
    root = write_mapicall(tmp_path / "mapi", test_apis=("QueryStock", "BookHotel"))
    sources = {"api": {"train": {"format": "mapicall_bank", "path": str(root), "file": None},
                       "test": {"format": "mapicall_bank", "path": str(root), "file": None}, "validation_size": 2}}
    with pytest.raises(DataError, match=r"1 API\(s\) appear in both train and test \(e.g. \['BookHotel'\]\)"):
        prepare_sources(sources, ["en"], ["en"], tmp_path / "cache")


XLSUM = {  # BBC-style rows as XLSum lays them out: id, url, title, summary, text (not parallel across languages)
    "en": [("The council approved money for schools.", "The city council voted on Monday to fund three new schools."),
           ("Floods closed roads.", "Heavy rain flooded the main roads for two days."),
           ("A library opened.", "A new public library opened with free entry.")],
    "ru": [("Совет выделил деньги на школы.", "В понедельник городской совет проголосовал за три новые школы."),
           ("Наводнение закрыло дороги.", "Сильные дожди два дня заливали главные дороги.")],
    "zh": [("议会批准了学校资金。", "市议会周一投票资助三所新学校。"), ("洪水导致道路关闭。", "暴雨连续两天淹没了主要道路。")],
}


def write_xlsum(root, split, rows=XLSUM, folders=True):
    names = {"en": "english", "ru": "russian", "zh": "chinese_simplified"}
    for lang, items in rows.items():
        folder = root / names[lang] if folders else root
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{names[lang]}_{split}.jsonl").write_text("".join(
            json.dumps({"id": f"{names[lang]}_{i}", "url": f"https://www.bbc.com/{i}", "title": "t", "summary": summary,
                        "text": text}, ensure_ascii=False) + "\n" for i, (summary, text) in enumerate(items)), encoding="utf-8")
    return root


def test_xlsum_per_language_files_are_aligned_by_position_and_converted(tmp_path):
    write_xlsum(tmp_path / "xlsum", "train")
    write_xlsum(tmp_path / "xlsum", "test", folders=False)  # flat files work too
    sources = {"summarization": {"train": {"format": "xlsum", "path": str(tmp_path / "xlsum")},
                                 "test": {"format": "xlsum", "path": str(tmp_path / "xlsum")}, "validation_size": 1}}
    data_dir = prepare_sources(sources, ["en", "ru", "zh"], ["en", "ru", "zh"], tmp_path / "cache")
    train = load_parallel(data_dir, "summarization", "train", ["en", "ru", "zh"])
    validation = load_parallel(data_dir, "summarization", "validation", ["en", "ru", "zh"])
    test = load_parallel(data_dir, "summarization", "test", ["en", "ru", "zh"])
    assert len(train["ru"]) + len(validation["ru"]) == 2 and len(test["zh"]) == 2  # the smallest language's count
    assert train["en"]["id"] == train["zh"]["id"] and test["ru"]["id"] == ["xlsum-test-000000", "xlsum-test-000001"]
    assert test["zh"][0] == {"id": "xlsum-test-000000", "text": "市议会周一投票资助三所新学校。", "summary": "议会批准了学校资金。"}
    with pytest.raises(DataError, match="XLSum has no 'de' data"):
        prepare_sources(sources, ["en", "de"], ["en"], tmp_path / "cache")


def test_aya_dolly_jsonl_and_parquet_rows_become_instruction_examples(tmp_path):
    import pyarrow
    import pyarrow.parquet

    rows = [{"id": i, "inputs": prompt, "targets": answer, "language": code, "script": "x"}
            for i, pairs in enumerate([{"eng": ("Name a primary colour.", "Red is a primary colour."),
                                        "ben": ("একটি মৌলিক রঙের নাম বলুন।", "লাল একটি মৌলিক রং।"),
                                        "tha": ("บอกชื่อแม่สีหนึ่งสี", "สีแดงเป็นแม่สี")},
                                       {"eng": ("What is the capital of Kenya?", "Nairobi is the capital of Kenya."),
                                        "ben": ("কেনিয়ার রাজধানী কী?", "নাইরোবি কেনিয়ার রাজধানী।"),
                                        "tha": ("เมืองหลวงของเคนยาคืออะไร", "ไนโรบีเป็นเมืองหลวงของเคนยา")}])
            for code, (prompt, answer) in pairs.items()]
    (tmp_path / "aya" / "train").mkdir(parents=True)
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), tmp_path / "aya" / "train" / "train-00000-of-00001.parquet")
    (tmp_path / "aya" / "test.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    sources = {"instruction": {"train": {"format": "aya_dolly", "path": str(tmp_path / "aya"), "file": "train"},
                               "test": {"format": "aya_dolly", "path": str(tmp_path / "aya"), "file": "test.jsonl"},
                               "validation_size": 1}}
    data_dir = prepare_sources(sources, ["en", "bn"], ["en", "bn", "th"], tmp_path / "cache")
    test = load_parallel(data_dir, "instruction", "test", ["en", "bn", "th"])
    assert test["th"][1]["prompt"] == "เมืองหลวงของเคนยาคืออะไร" and test["bn"]["id"] == ["dolly-0", "dolly-1"]
    assert test["en"][0]["instructions"] == [{"kind": "language", "n": None, "words": None, "text": None, "lang": None}]
    assert len(load_parallel(data_dir, "instruction", "train", ["en", "bn"])["bn"]) == 1
