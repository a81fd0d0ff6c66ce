"""Peak memory of converting an mCoT-MATH-sized file: the streaming reader (two passes, a seeded draw of the
sample) against loading the JSON array whole, as the reader did before.

    .venv/bin/python benchmarks/mcot_streaming.py [--rows 1000000] [--sample 10200]

Writes a generated file in the release's layout (one JSON array, ``lang-id``, MetaMath-style answers, 3% of them
MATH-style non-numbers) to a temporary folder, then runs each reader in its own process and prints its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ["en", "es", "ja", "bn", "sw", "te", "fr", "de", "ru", "zh"]


def write_file(path: Path, rows: int) -> None:
    per_language = rows // len(LANGUAGES)
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        for lang_index, lang in enumerate(LANGUAGES):
            for i in range(per_language):
                answer = "\\frac{1}{2}" if i % 33 == 0 else str(i % 97)
                record = {"lang-id": f"{lang}-{i}", "lang": lang,
                          "question": f"Problem {i}: a shop sells {i % 50 + 2} apples at {i % 7 + 1} dollars each. "
                                      "How much money does it make in a week if it sells the same every day?",
                          "answer": f"Each day it makes {i % 50 + 2} * {i % 7 + 1} dollars. Over seven days the total "
                                    f"is seven times that amount.\nThe answer is: {answer}"}
                last = lang_index == len(LANGUAGES) - 1 and i == per_language - 1
                out.write(json.dumps(record) + ("\n" if last else ",\n"))
        out.write("]\n")


def measure(code: str) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of ``code`` run in a fresh Python process."""
    started = time.time()
    done = subprocess.run([sys.executable, "-c", code + "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    return int(done.stdout.split()[-1]) / 1024, time.time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        rows = []
        for n in (args.rows // 4, args.rows):
            path = Path(scratch) / f"mcot-{n}.json"
            write_file(path, n)
            size = path.stat().st_size / 2**20
            streaming = (f"from training.loaders import read_mcot_math\n"
                         f"rows = read_mcot_math({str(path)!r}, ['en', 'es', 'ja', 'bn', 'sw'], sample={args.sample})\n"
                         f"assert all(len(r) == {args.sample} for r in rows.values())")
            whole = f"import json\nrows = json.loads(open({str(path)!r}, encoding='utf-8').read())\nassert len(rows) == {n}"
            baseline = measure("import training.loaders")
            for method, code in (("streamed, sample drawn", streaming), ("json.loads of the whole file", whole)):
                peak, seconds = measure(code)
                rows.append((n, size, method, peak, peak - baseline[0], seconds))
    print(f"{'rows':>9} {'file MiB':>9}  {'reader':<30} {'peak RSS MiB':>12} {'over import':>11} {'seconds':>8}")
    for n, size, method, peak, over, seconds in rows:
        print(f"{n:>9} {size:>9.0f}  {method:<30} {peak:>12.0f} {over:>11.0f} {seconds:>8.1f}")
    print(f"(streamed: 5 of {len(LANGUAGES)} languages, sample {args.sample} per language; "
          f"ru_maxrss of each reader's own process)")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
