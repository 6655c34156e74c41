"""Checks for bertlite/checkpoints.py (lesson 10: a checkpoint that a crash cannot corrupt).

The reference is what a crash in the middle of torch.save leaves behind."""

import tempfile
from pathlib import Path

import torch

from .harness import CheckFailed, Exercise, call, where_in_learner_code
from .hints import first_hint

__all__ = ["check_atomic_save", "MISTAKES"]


def _straight(obj, path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)


def _no_folder(obj, path):
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def _swallowed(obj, path):
    try:
        _straight(obj, Path(path).with_name(Path(path).name + ".tmp"))
        Path(path).with_name(Path(path).name + ".tmp").replace(path)
    except Exception:
        pass


def _tmp_left_renamed_first(obj, path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    if Path(path).exists():
        Path(path).replace(tmp)  # the old file moved away first: a crash now leaves nothing at path
    torch.save(obj, path)


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "atomic_save": Exercise(lesson="10", check="check_atomic_save", hints=(
        "Never write over the only good copy: write a new file beside it, then swap it in, in one step.",
        "bertlite.cache.atomic_write(path, content) does the temporary file, the flush and the rename; it "
        "accepts a function that writes to the temporary path it is given.",
        "return atomic_write(path, lambda tmp: torch.save(obj, tmp))",
    )),
}


# The common mistakes of the exercise, as code (see checks/attention.py).
MISTAKES = {
    "atomic_save": {
        "torch.save straight to the path (a crash leaves half a file)": _straight,
        "no folder made for a new run": _no_folder,
        "the error from torch.save swallowed": _swallowed,
        "the old file moved away before the new one is written": _tmp_left_renamed_first,
    },
}


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
        except CheckFailed:
            raise
        except Exception as e:  # torch raises RuntimeError for a missing folder, open() FileNotFoundError
            missing = isinstance(e, FileNotFoundError) or "does not exist" in str(e)
            raise CheckFailed(f"✗ atomic_save, case «a new run: the folder does not exist yet»: your code raised "
                              f"{type(e).__name__}: {e}" + where_in_learner_code(e) + "\n  hint: "
                              + ("path.parent.mkdir(parents=True, exist_ok=True) first." if missing
                                 else first_hint("atomic_save"))) from e
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
