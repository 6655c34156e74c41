"""`python -m bertlite pretrain`, run as a learner runs it: in a subprocess, on a made-up corpus."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch


def write_corpus(folder, n_sentences=60, seed=0):
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for d, words in enumerate([["river", "boat", "water"], ["money", "loan", "tax"], ["army", "war", "navy"],
                               ["school", "child", "book"]]):
        s = [f"The {rng.choice(words)} sees the {rng.choice(words)} number {i % 7}." for i in range(n_sentences)]
        (folder / f"doc{d}.txt").write_text(" ".join(s[:30]) + "\n\n" + " ".join(s[30:]) + "\n")
    return folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    env = dict(os.environ, BERTLITE_CACHE=str(root / "cache"), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    args = ["--corpus", str(write_corpus(root / "corpus")), "--vocab-size", "100", "--seq-len", "32",
            "--batch-size", "4", "--device", "cpu"]
    return root, env, args


def bertlite(env, *args, **kw):
    return subprocess.run([sys.executable, "-m", "bertlite", *args], env=env, capture_output=True,
                          text=True, timeout=300, **kw)


def test_help_reads_well():
    out = subprocess.run([sys.executable, "-m", "bertlite", "pretrain", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for option in ("--preset", "--corpus", "--steps", "--batch-size", "--seq-len", "--lr", "--seed", "--out",
                   "--log-every", "--save-every", "--resume", "--device", "--compile", "--no-nsp",
                   "--mlm-probability", "--pre-ln", "examples:"):
        assert option in out.stdout


def test_pretrain_tiny_writes_metrics_checkpoint_and_plots(setup):
    root, env, args = setup
    out = root / "run"
    r = bertlite(env, "pretrain", "--preset", "tiny", "--steps", "3", "--log-every", "1", "--out", str(out), *args)
    assert r.returncode == 0, r.stderr
    assert "done: 3 steps" in r.stdout
    assert "held out (" in r.stdout and "never trained on" in r.stdout
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3]
    for m in metrics:
        assert {"step", "loss", "mlm_loss", "nsp_loss", "lr", "tokens_per_s"} <= set(m)
        assert m["loss"] == pytest.approx(m["mlm_loss"] + m["nsp_loss"])
    assert torch.load(out / "checkpoint-0000003.pt", weights_only=True)["step"] == 3
    assert (out / "loss.png").stat().st_size > 0 and (out / "accuracy.png").stat().st_size > 0


def test_bad_arguments_get_clear_errors(setup):
    root, env, args = setup
    r = bertlite(env, "pretrain", "--preset", "huge", *args)
    assert r.returncode == 2 and "invalid choice: 'huge'" in r.stderr
    r = bertlite(env, "pretrain", "--out", str(root / "none"), "--resume", *args)
    assert r.returncode == 1 and "no checkpoint" in r.stderr and "Traceback" not in r.stderr
    r = bertlite(env, "pretrain", "--out", str(root / "big"), *args, "--batch-size", "5000")  # the last one counts
    assert r.returncode == 1 and "fewer than one batch of 5000" in r.stderr


def test_ctrl_c_saves_a_checkpoint_and_resume_checks_the_config(setup):
    root, env, args = setup
    out = root / "interrupted"
    cmd = [sys.executable, "-m", "bertlite", "pretrain", "--steps", "2000", "--log-every", "1", "--out", str(out), *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "metrics.jsonl").exists() or not (out / "metrics.jsonl").read_text().strip():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "stopped at step" in stdout and "Traceback" not in stderr
    saved = list(out.glob("checkpoint-*.pt"))
    assert len(saved) == 1
    step = torch.load(saved[0], weights_only=True)["step"]
    assert 0 < step < 2000
    # resume with a shorter schedule is a different run: refused, with the difference named
    r = bertlite(env, "pretrain", "--steps", "1000", "--out", str(out), "--resume", *args)
    assert r.returncode == 1 and "steps: checkpoint 2000, now 1000" in r.stderr


def test_torchrun_two_cpu_processes(setup):
    root, env, args = setup
    out = root / "ddp"
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "bertlite", "pretrain", "--steps", "4", "--log-every", "2", "--out", str(out), *args],
        env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("done: 4 steps") == 1  # only rank 0 reports
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [2, 4]  # only rank 0 logs
    assert torch.load(out / "checkpoint-0000004.pt", weights_only=True)["step"] == 4


from bertlite.course import cli  # noqa: E402

def test_the_cli_help_lists_the_workshop_commands():
    text = cli.build_parser().format_help()
    assert all(name in text for name in ("doctor", "prepare", "reset"))
