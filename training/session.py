"""Where the SFT loop runs, and what it needs of its surroundings: its rank, its device, the checkpoint to resume from,
and somewhere to report each epoch with its checkpoint.

- ``RayTrainSession``: inside Ray Train's workers (TorchTrainer): DDP or DeepSpeed over any number of workers, on
  CPUs or GPUs; Ray Train keeps the checkpoints and restarts failed workers.
- ``LocalSession``: one worker in the calling process, for a one-CPU-worker job, which needs no process group: a
  Ray Train run costs it 45-55 s of actor start-up and shutdown on a small machine (docs/performance.md), more than
  a proxy run's epochs. It keeps checkpoints in the same layout (``<run dir>/epoch_NNN``): the best by the
  selection score and the latest, which a restarted run resumes from.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

# write_checkpoint(directory): saves the model, its tokenizer and the job's record there
CheckpointWriter = Callable[[str], None]
REPORT_FILE = "polymix_report.json"  # (LocalSession) the epoch's reported metrics, beside its checkpoint


class RayTrainSession:
    """The loop inside a TorchTrainer worker."""

    def __init__(self):
        import ray.train
        import ray.train.torch

        context = ray.train.get_context()
        self.rank, self.world_size = context.get_world_rank(), context.get_world_size()
        self.device = ray.train.torch.get_device()

    @contextlib.contextmanager
    def restored(self) -> Iterator[str | None]:
        """The directory of the checkpoint a restarted run resumes from (None for a fresh run)."""
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as directory:
            yield directory

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """DistributedDataParallel when there are several workers, the model itself when there is one."""
        import ray.train.torch

        return ray.train.torch.prepare_model(model)

    def report(self, metrics: dict, write_checkpoint: CheckpointWriter | None, name: str) -> None:
        import ray.train

        if write_checkpoint is None:
            ray.train.report(metrics)
            return
        # Ray copies the checkpoint to the run's storage before report returns (synchronous upload): the local copy
        # is then removed, not left in /tmp (a 1B model's is gigabytes, every epoch).
        with tempfile.TemporaryDirectory(prefix="polymix-ckpt-") as directory:
            write_checkpoint(directory)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(directory), checkpoint_dir_name=name)


class LocalSession:
    """One CPU worker in this process. Checkpoints go to ``run_dir/<name>`` (written aside, then renamed: a run
    killed mid-write leaves no half checkpoint); of those, the best by ``score_key`` and the latest stay. Every
    report, after its checkpoint is in place, goes to ``on_report``."""

    rank, world_size = 0, 1

    def __init__(self, run_dir: Path, score_key: str, on_report: Callable[[dict], None]):
        self.run_dir, self.score_key, self.on_report = Path(run_dir), score_key, on_report
        self.device = torch.device("cpu")

    def kept(self) -> list[tuple[Path, dict]]:
        """The checkpoints in the run directory with their reported metrics, oldest first."""
        found = sorted(self.run_dir.glob("epoch_*/" + REPORT_FILE)) if self.run_dir.is_dir() else []
        return [(path.parent, json.loads(path.read_text())) for path in found]

    def best(self, kept: list[tuple[Path, dict]] | None = None) -> tuple[Path, dict]:
        """The kept checkpoint with the best score, and its metrics (the earliest of equal scores, as Ray keeps)."""
        kept = self.kept() if kept is None else kept
        if not kept:
            raise RuntimeError(f"no checkpoint under {self.run_dir}: the run reported no epoch")
        return max(kept, key=lambda entry: entry[1][self.score_key])  # (max returns the first of equal scores)

    @contextlib.contextmanager
    def restored(self) -> Iterator[str | None]:
        kept = self.kept()
        yield str(kept[-1][0]) if kept else None

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def report(self, metrics: dict, write_checkpoint: CheckpointWriter | None, name: str) -> None:
        if write_checkpoint is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            staging = self.run_dir / f".{name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            write_checkpoint(str(staging))
            (staging / REPORT_FILE).write_text(json.dumps(metrics))
            shutil.rmtree(self.run_dir / name, ignore_errors=True)
            os.replace(staging, self.run_dir / name)
            self._prune()
        self.on_report(metrics)

    def _prune(self) -> None:
        kept = self.kept()  # (read once: the best is chosen from the same list)
        keep = {kept[-1][0], self.best(kept)[0]}
        for directory, _ in kept:
            if directory not in keep:
                shutil.rmtree(directory)
