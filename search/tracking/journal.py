"""The tracking journal: writes MLflow could not take (its server down), kept on disk in order, per run.

A trial keeps training while the tracking server is away; what it would have logged (params, per-epoch metrics,
evaluation, artifacts, the final status) is appended to ``JOURNAL_DIR/<run id>.jsonl`` and replayed once the
server answers again: by the next write of that run, at the end of the sweep, or by ``polymix sync``. The trial
function and the Train controller (per-epoch metrics) write the same run from two processes, so every access
holds the run's file lock. After each replayed write the file is rewritten with what is left, so a replay that is
itself interrupted resumes where it stopped instead of logging anything twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock


class Journal:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _path(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.jsonl"

    def lock(self, run_id: str) -> FileLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self._path(run_id)) + ".lock")

    def has(self, run_id: str) -> bool:
        return self._path(run_id).exists()

    def append(self, run_id: str, op: str, args: list) -> None:
        """Call under ``lock(run_id)``."""
        with self._path(run_id).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps([op, args], ensure_ascii=False) + "\n")

    def read(self, run_id: str) -> list[tuple[str, list]]:
        path = self._path(run_id)
        if not path.exists():
            return []
        return [tuple(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def rewrite(self, run_id: str, entries: list[tuple[str, list]]) -> None:
        """Replace the run's journal with ``entries`` (atomically); none left removes it. Call under the lock."""
        path = self._path(run_id)
        if not entries:
            path.unlink(missing_ok=True)
            return
        staging = path.with_suffix(".tmp")
        staging.write_text("".join(json.dumps(list(entry), ensure_ascii=False) + "\n" for entry in entries), encoding="utf-8")
        os.replace(staging, path)

    def forget(self, run_id: str) -> None:
        """Remove a replayed run's lock file (after the sweep: no process writes the run any more)."""
        Path(str(self._path(run_id)) + ".lock").unlink(missing_ok=True)

    def run_ids(self) -> list[str]:
        return sorted(path.stem for path in self.folder.glob("*.jsonl")) if self.folder.exists() else []
