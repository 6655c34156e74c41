"""Course tool, for workshops: `python -m bertlite reset NN`, a fresh copy of one lesson, keeping the learner's.

The fresh copy is what lessons.py makes from solutions/NN_*.ipynb (the lesson as the
repository ships it). The learner's copy is never deleted: it is first kept beside the lesson as
NN_topic.backup-YYYYmmdd-HHMMSS.ipynb, and only then is the fresh copy written (atomically), so
at every moment one of the two names holds the learner's work.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ..cache import atomic_write
from .lessons import lesson_text

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ".backup-"  # in a backup's name; pytest and make_lessons.py skip such notebooks


def find_solution(lesson, solutions):
    """solutions/NN_topic.ipynb for "3", "03" or "03_attention"."""
    available = sorted(p for p in Path(solutions).glob("[0-9][0-9]_*.ipynb"))
    names = ", ".join(p.stem for p in available) or "none"
    key = str(lesson).strip().removesuffix(".ipynb")
    if key.isdigit():
        matches = [p for p in available if p.name[:2] == f"{int(key):02d}"]
    else:
        matches = [p for p in available if p.stem == key]
    if len(matches) != 1:
        raise ValueError(f"lesson {lesson!r}: no such lesson. Give its number (1 to {len(available)}) or its name; "
                         f"the lessons are: {names}.")
    return matches[0]


def backup_path(target, now=None):
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    path = target.with_name(f"{target.stem}{BACKUP}{stamp}.ipynb")
    n = 2
    while path.exists():  # two resets in one second keep both backups
        path = target.with_name(f"{target.stem}{BACKUP}{stamp}-{n}.ipynb")
        n += 1
    return path


def keep_copy(target, backup):
    """Give `target`'s file a second name, `backup`, without overwriting anything."""
    try:
        os.link(target, backup)  # fails if backup exists; the same bytes, no copy
    except OSError:  # a filesystem without hard links (FAT, some network drives): copy instead
        with open(target, "rb") as src, open(backup, "xb") as dst:
            shutil.copyfileobj(src, dst)
            dst.flush()
            os.fsync(dst.fileno())


def reset_lesson(lesson, lessons="lessons", solutions=None):
    """Write a fresh lessons/NN_topic.ipynb. Returns (path, backup path or None)."""
    lessons = Path(lessons)
    if not lessons.is_dir():
        raise FileNotFoundError(f"--lessons {str(lessons)!r} is not a folder: give the folder that holds "
                                f"your lesson notebooks (default: lessons, from the repository's folder).")
    solutions = Path(solutions) if solutions else ROOT / "solutions"
    if not solutions.is_dir():
        raise FileNotFoundError(f"{solutions} is missing: a fresh lesson is made from the course's solutions, so "
                                f"reset runs from a clone of the course (bertlite installed with pip install -e).")
    solution = find_solution(lesson, solutions)
    fresh = lesson_text(solution)  # everything is made and checked before a file is touched
    target = lessons / solution.name
    if target.exists():
        if target.read_bytes() == fresh.encode("utf-8"):
            return target, None
        backup = backup_path(target)
        keep_copy(target, backup)
    else:
        backup = None
    atomic_write(target, fresh)
    return target, backup


def main(lesson, lessons="lessons"):
    target, backup = reset_lesson(lesson, lessons)
    if backup is None:
        print(f"{target} is a fresh copy (it was already, or was missing); nothing else changed.")
    else:
        print(f"{target} is a fresh copy. Your work is kept in {backup}.\n"
              f"If the lesson is open in Jupyter, reload it there (File > Reload Notebook from Disk) before you "
              f"save, or Jupyter will write your old copy back.")
    return 0
