"""`python -m bertlite reset NN` (course/reset.py): a fresh lesson, and the learner's copy kept beside it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bertlite.course import cli, reset
from bertlite.course.lessons import lesson_text

ROOT = Path(__file__).resolve().parent.parent


# --- reset ----------------------------------------------------------------------------------------------

def fresh_text(name):
    return lesson_text(ROOT / "solutions" / name)


def test_reset_keeps_the_learners_copy(tmp_path, capsys):
    lesson = tmp_path / "03_attention.ipynb"
    mine = json.loads(fresh_text(lesson.name))
    mine["cells"][0]["source"] = "my notes, which must survive"
    lesson.write_text(json.dumps(mine))
    before = lesson.read_bytes()
    assert cli.main(["reset", "3", "--lessons", str(tmp_path)]) == 0
    assert lesson.read_text() == fresh_text(lesson.name)
    backups = sorted(tmp_path.glob("03_attention.backup-*.ipynb"))
    assert len(backups) == 1 and backups[0].read_bytes() == before
    assert "Your work is kept in" in capsys.readouterr().out
    # A fresh lesson is left alone: no second backup.
    reset.reset_lesson("03_attention", tmp_path)
    assert len(list(tmp_path.glob("*.backup-*"))) == 1


def test_reset_twice_in_one_second_keeps_both(tmp_path):
    lesson = tmp_path / "02_embeddings.ipynb"
    for text in ("first attempt", "second attempt"):
        lesson.write_text(text)
        reset.reset_lesson(2, tmp_path)
    kept = sorted(p.read_text() for p in tmp_path.glob("02_embeddings.backup-*.ipynb"))
    assert kept == ["first attempt", "second attempt"]


def test_reset_of_a_missing_lesson_writes_it(tmp_path):
    path, backup = reset.reset_lesson("10", tmp_path)
    assert backup is None and path.read_text() == fresh_text("10_gpu_pretraining.ipynb")


@pytest.mark.parametrize("lesson", ["42", "attention", "03_atention"])
def test_reset_of_an_unknown_lesson_names_the_lessons(tmp_path, lesson, capsys):
    assert cli.main(["reset", lesson, "--lessons", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"lesson {lesson!r}: no such lesson" in err and "03_attention" in err
    assert list(tmp_path.iterdir()) == []


def test_reset_needs_a_lessons_folder(tmp_path, capsys):
    assert cli.main(["reset", "3", "--lessons", str(tmp_path / "nowhere")]) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_backups_are_not_collected_or_orphans(tmp_path):
    from tools import make_lessons  # noqa: F401 - the repository root is on sys.path under pytest

    backup = ROOT / "lessons" / "03_attention.backup-20000101-000000.ipynb"
    backup.write_text((ROOT / "lessons" / "03_attention.ipynb").read_text())
    try:
        assert make_lessons.main(["--check"]) == 0
        result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", str(backup)],
                                capture_output=True, text=True, cwd=ROOT)
        assert "no tests" in result.stdout or "collected 0" in result.stdout, result.stdout
    finally:
        backup.unlink()
