"""`python -m bertlite prepare` (course/prepare.py): it fills every cache, so the lessons then run with the network blocked."""

import subprocess
from pathlib import Path

import pytest

from bertlite.course import doctor, prepare
from bertlite.data import task_data
from bertlite.pretraining import PretrainConfig

ROOT = Path(__file__).resolve().parent.parent


# --- prepare, then the lessons with the network blocked ----------------------------------------------

def block_downloads(monkeypatch):
    """Every download bertlite makes fails: pip's (the sentiment sdist) and urllib's (SQuAD, SST-2)."""
    def no_pip(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: network is blocked by the test")

    def no_url(*args, **kwargs):
        raise OSError("network is blocked by the test")

    monkeypatch.setattr(task_data.subprocess, "run", no_pip)
    monkeypatch.setattr("urllib.request.urlopen", no_url)


def test_without_prepare_a_blocked_network_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path))
    block_downloads(monkeypatch)
    with pytest.raises(RuntimeError, match="offline"):
        task_data.load_movie_reviews()
    check = doctor.check_sentiment_data()
    assert check.status == doctor.WARN and "prepare" in check.fix


def test_prepare_then_the_lessons_run_offline(monkeypatch, capsys):
    assert prepare.main() == 0  # fills the cache the tests use (a no-op where it is filled)
    out = capsys.readouterr().out
    assert out.count("OK    ") == 4 and "the course now runs offline" in out
    block_downloads(monkeypatch)
    from bertlite.pretraining_runs import pretraining_pairs
    from bertlite.course.transfer import labelled_sample
    from bertlite.vocab import corpus_tokenizer

    assert corpus_tokenizer().vocab_size == 8000  # lessons 01 to 10
    assert len(pretraining_pairs(PretrainConfig())[1]) > 1000  # lessons 07 and 10
    assert len(task_data.sentiment_task()["test"]) == 1007  # lesson 09
    assert len(labelled_sample("sentiment", 100, 0)) == 100  # lesson 09's transfer grid
    assert doctor.check_sentiment_data(online=False).status == doctor.OK
    assert prepare.main() == 0  # again, offline: every step is cached


def test_prepare_reports_a_failed_step_and_goes_on(monkeypatch, capsys):
    def broken():
        raise OSError("disk on fire")
    monkeypatch.setattr(prepare, "steps", lambda pretrain, notebooks: [("broken", broken), ("fine", lambda: "done")])
    assert prepare.main() == 1
    out = capsys.readouterr().out
    assert "FAIL  broken: OSError: disk on fire" in out and "OK    fine: done" in out


def test_prepare_notebooks_runs_copies_and_changes_no_file(tmp_path):
    import nbformat

    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("open('written-by-the-notebook.txt', 'w').write('x')")])
    nbformat.write(nb, solutions / "01_demo.ipynb")
    before = (solutions / "01_demo.ipynb").read_bytes()
    assert prepare.step_notebooks(solutions) == "ran 1 solution notebook once"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["01_demo.ipynb", "solutions"]
    assert (solutions / "01_demo.ipynb").read_bytes() == before
    with pytest.raises(FileNotFoundError, match="no solution notebooks"):
        prepare.step_notebooks(tmp_path / "empty")
