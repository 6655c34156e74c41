"""Checks for bertlite/checkpoints.py (lesson 10: a checkpoint that a crash cannot corrupt).

The reference is what a crash in the middle of torch.save leaves behind."""

import tempfile
from pathlib import Path

import torch

from .harness import CheckFailed, call

__all__ = ["check_atomic_save"]


class _FailsHalfway:
    """Pickling this raises, after torch.save has already written the tensors before it."""

    def __reduce__(self):
        raise RuntimeError("simulated crash in the middle of torch.save")


def check_atomic_save(atomic_save):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run" / "checkpoint.pt"  # the folder does not exist yet
        good = {"step": 100, "weights": torch.arange(1000.0)}
        try:
            call("atomic_save", atomic_save, good, path)
        except FileNotFoundError:
            raise CheckFailed("✗ atomic_save: saving into a folder that does not exist yet failed.\n"
                              "  hint: path.parent.mkdir(parents=True, exist_ok=True) first.") from None
        loaded = torch.load(path, weights_only=True)
        if loaded["step"] != 100 or not torch.equal(loaded["weights"], good["weights"]):
            raise CheckFailed("✗ atomic_save: the file does not load back to what was saved.")
        crashed = False
        try:
            bad = {"step": 200, "weights": torch.zeros(1000), "bad": _FailsHalfway()}
            call("atomic_save", atomic_save, bad, path)
        except Exception:
            crashed = True
        if not crashed:
            raise CheckFailed("✗ atomic_save swallowed an error from torch.save; let it propagate, "
                              "so the training loop knows the checkpoint was not written.")
        try:
            after = torch.load(path, weights_only=True)
        except Exception as e:
            raise CheckFailed(
                f"✗ atomic_save: a crash in the middle of torch.save left {path.name} unreadable "
                f"({type(e).__name__}). The last good checkpoint is lost.\n  hint: torch.save to a "
                f"temporary file in the same folder, then os.replace(tmp, path): the rename is "
                f"atomic, so the path holds the old file or the new one, never half of one.") from None
        if after["step"] != 100:
            raise CheckFailed("✗ atomic_save: after the crash the file does not hold the last good checkpoint.")
    print("✓ atomic_save: the file loads back, and a crash mid-save leaves the last good checkpoint intact.")
