"""What bertlite guarantees about run folders, checkpoints and caches: nothing is lost.

Each test is a fault or a mistake that a learner made on the old code, where it lost or corrupted
data, or gave a traceback instead of a message. CLI tests run `python -m bertlite` in a subprocess
on a made-up corpus; interruptions send real signals; the full disk is a small tmpfs (root only).
"""

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bertlite import pretraining as pt
from bertlite import checkpoints, pretrained
from bertlite import pretraining_runs as runs
from bertlite import pretraining_data
from bertlite.checkpoints import checkpoints_by_step, load_checkpoint

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import write_corpus  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("guarantees")
    env = dict(os.environ, BERTLITE_CACHE=str(root / "cache"), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    corpus = write_corpus(root / "corpus")
    args = ["--corpus", str(corpus), "--vocab-size", "100", "--seq-len", "32", "--batch-size", "4", "--device", "cpu"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BERTLITE_CACHE", str(root / "cache"))
        cfg = pt.PretrainConfig(corpus=str(corpus), vocab_size=100, steps=6, batch_size=4, seq_len=32,
                                log_every=1, device="cpu")
        yield dict(root=root, env=env, args=args, cfg=cfg, corpus=corpus)


def bertlite(setup, *args, **kw):
    return subprocess.run([sys.executable, "-m", "bertlite", "pretrain", *setup["args"], *args], env=setup["env"],
                          capture_output=True, text=True, timeout=300, **kw)


def snapshot(folder):
    """{file name: sha256} of everything in a folder: "byte-identical" made checkable."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).iterdir())}


def run(setup, name, **changes):
    cfg = dataclasses.replace(setup["cfg"], out=str(setup["root"] / name),
                              **{k: v for k, v in changes.items() if k not in ("resume", "stop_at", "overwrite")})
    return runs.run_pretraining(cfg, resume=changes.get("resume", False), stop_at=changes.get("stop_at"),
                              overwrite=changes.get("overwrite", False), progress=False)


def no_traceback(r):
    return "Traceback" not in r.stderr


# --- 1. one run per folder -------------------------------------------------------------------------

def test_a_fresh_run_refuses_a_folder_that_holds_a_run(setup):
    out = setup["root"] / "old"
    r = bertlite(setup, "--steps", "4", "--save-every", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    before = snapshot(out)
    assert {"checkpoint-0000002.pt", "checkpoint-0000004.pt", "metrics.jsonl"} <= set(before)
    r = bertlite(setup, "--steps", "2", "--out", str(out))  # the old code deleted checkpoint 2 and truncated metrics
    assert r.returncode == 1 and no_traceback(r)
    assert "already holds a run" in r.stderr and "--resume" in r.stderr and "--overwrite" in r.stderr
    assert snapshot(out) == before
    r = bertlite(setup, "--steps", "2", "--out", str(out), "--overwrite")
    assert r.returncode == 0, r.stderr
    assert sorted(checkpoints_by_step(out)) == [2]
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()][-1] == 2


def test_a_run_keeps_its_latest_two_checkpoints_by_step_not_by_name(setup):
    run(setup, "keep", steps=5, save_every=1)
    assert sorted(checkpoints_by_step(setup["root"] / "keep")) == [4, 5]


def test_a_refused_resume_leaves_the_folder_byte_identical(setup):
    run(setup, "refused", steps=2)
    out = setup["root"] / "refused"
    before = snapshot(out)
    with pytest.raises(ValueError, match=r"lr: checkpoint 0.001, now 0.005"):
        run(setup, "refused", steps=2, lr=5e-3, resume=True)
    with pytest.raises(ValueError, match=r"vocab_size: checkpoint 100, now 120"):  # another vocabulary
        run(setup, "refused", steps=2, vocab_size=120, resume=True)
    assert snapshot(out) == before


def test_resuming_after_the_corpus_changed_is_refused(setup):
    corpus = setup["root"] / "changing"
    shutil.copytree(setup["corpus"], corpus)
    cfg = dataclasses.replace(setup["cfg"], corpus=str(corpus), steps=4, out=str(setup["root"] / "changed"))
    runs.run_pretraining(cfg, stop_at=2, progress=False)
    before = snapshot(cfg.out)
    doc = corpus / "doc0.txt"
    doc.write_text(doc.read_text().replace("river", "stream"))
    with pytest.raises(ValueError, match="training pairs differ|not the vocabulary"):
        runs.run_pretraining(cfg, resume=True, progress=False)
    assert snapshot(cfg.out) == before


def test_a_second_process_is_kept_out_and_a_dead_ones_lock_is_taken_over(setup):
    out = setup["root"] / "locked"
    cmd = [sys.executable, "-m", "bertlite", "pretrain", "--steps", "5000", "--out", str(out), *setup["args"]]
    first = subprocess.Popen(cmd, env=setup["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / "run.lock").exists():
            assert first.poll() is None and time.time() < deadline, first.communicate()
            time.sleep(0.1)
        r = bertlite(setup, "--steps", "5000", "--out", str(out), "--resume")
        assert r.returncode == 1 and no_traceback(r)
        assert f"in use by another run (process {first.pid}" in r.stderr
    finally:
        first.kill()  # SIGKILL: the lock stays behind, naming a process that no longer runs
        first.communicate()
    assert (out / "run.lock").exists()
    r = bertlite(setup, "--steps", "2", "--out", str(out), "--overwrite")
    assert r.returncode == 0, r.stderr
    assert "taking over" in r.stdout and not (out / "run.lock").exists()


# --- 2. checkpoints: divergence, full disks, damaged files -----------------------------------------

def test_no_checkpoint_with_non_finite_weights_is_ever_written(setup, monkeypatch):
    original = pt.training_step
    calls = []

    def poisoned(model, *args, **kwargs):  # the 3rd update turns one weight into inf
        o = original(model, *args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            with torch.no_grad():
                next(model.parameters())[0, 0] = float("inf")
        return o

    monkeypatch.setattr(pt, "training_step", poisoned)
    with pytest.raises(FloatingPointError, match=r"step 3.*last good checkpoint is .*checkpoint-0000002.pt \(step 2\)"):
        run(setup, "diverged", steps=6, save_every=1, log_every=5)
    out = setup["root"] / "diverged"
    assert sorted(checkpoints_by_step(out)) == [1, 2]
    for path in checkpoints_by_step(out).values():
        assert all(torch.isfinite(t).all() for t in load_checkpoint(path)["model"].values())


@pytest.mark.parametrize("lr", ["inf", "nan", "1e30", "0", "-1"])
def test_a_learning_rate_that_cannot_train_is_refused_before_any_work(setup, lr):
    out = setup["root"] / f"lr-{lr}"
    r = bertlite(setup, "--lr", lr, "--out", str(out))
    assert r.returncode == 1 and no_traceback(r) and f"--lr {float(lr)!r}" in r.stderr
    assert not out.exists()


def test_a_failed_save_leaves_no_temp_file_and_keeps_the_previous_checkpoint(setup, monkeypatch):
    saves = []
    real_save = torch.save

    def fills_the_disk(obj, f, *args, **kwargs):
        saves.append(1)
        if len(saves) == 2:  # half a file, then the disk is full
            Path(f).write_bytes(b"x" * 1000)
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", fills_the_disk)
    with pytest.raises(OSError, match=r"(?i)could not write .*checkpoint-0000002.pt: .*no space left.*MiB free"):
        run(setup, "full", steps=4, save_every=1)
    out = setup["root"] / "full"
    assert sorted(checkpoints_by_step(out)) == [1] and not list(out.glob(".*tmp"))
    assert load_checkpoint(out / "checkpoint-0000001.pt")["step"] == 1


@pytest.fixture
def tmpfs(tmp_path):
    """A mount point for a small tmpfs: a real full disk. Needs root (CI runs as root)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs to fill needs root")
    mounted = []

    def mount(size, options=""):
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}{options}", "tmpfs", str(point)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_full_disk_is_named_and_two_checkpoints_need_room_for_two(setup, tmpfs):
    run(setup, "size", steps=1)
    size = (setup["root"] / "size" / "checkpoint-0000001.pt").stat().st_size
    # room for two and a half checkpoints: keeping two used to need three
    disk = tmpfs(int(2.5 * size) + 400_000)
    r = bertlite(setup, "--steps", "4", "--save-every", "1", "--out", str(disk / "run"))
    assert r.returncode == 0, r.stderr
    assert sorted(checkpoints_by_step(disk / "run")) == [3, 4]
    # room for one and a half: the second save fails, names the folder, and keeps the first
    disk = tmpfs(int(1.5 * size) + 400_000)
    r = bertlite(setup, "--steps", "4", "--save-every", "1", "--out", str(disk / "run"))
    assert r.returncode == 1 and no_traceback(r)
    assert "no space left" in r.stderr.lower() and "MiB free" in r.stderr and str(disk / "run") in r.stderr
    assert sorted(checkpoints_by_step(disk / "run")) == [1] and not list((disk / "run").glob(".*tmp"))
    r = bertlite(setup, "--steps", "4", "--save-every", "1", "--out", str(disk / "run"), "--resume")
    assert "Traceback" not in r.stderr  # resumes from step 1 (and fills the disk again, cleanly)


def test_a_truncated_latest_checkpoint_falls_back_to_the_one_before(setup):
    run(setup, "torn", steps=4, save_every=2, stop_at=4)
    out = setup["root"] / "torn"
    latest = out / "checkpoint-0000004.pt"
    latest.write_bytes(latest.read_bytes()[:5000])
    (out / "metrics.jsonl").write_text((out / "metrics.jsonl").read_text() + '{"step": 5, "lo')  # torn line
    resumed = run(setup, "torn", steps=4, save_every=2, resume=True)
    model, history = resumed.model, resumed.history
    assert [m["step"] for m in history] == [1, 2, 3, 4]
    model2, _ = pretrained.load_pretrained(out)  # the resumed run rewrote checkpoint 4
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model2.state_dict().values()))


def test_checkpoints_from_elsewhere_are_never_unpickled(setup, tmp_path):
    run(setup, "evil", steps=1)
    out = setup["root"] / "evil"

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    ckpt = out / "checkpoint-0000001.pt"
    torch.save({"model": Boom()}, ckpt)
    with pytest.raises(FileNotFoundError, match="no checkpoint-.*that loads"):
        pretrained.load_pretrained(out)
    assert not (tmp_path / "pwned").exists()
    from bertlite.checkpoints import load_checkpoint as load
    with pytest.raises(ValueError, match="will not unpickle") as e:
        load(ckpt)
    assert "weights_only=False" not in str(e.value)
    torch.save({"model": {}, "step": 1}, ckpt)  # no config: not one of ours
    with pytest.raises(ValueError, match="lacks optimizer, scheduler, scaler, rng, config, model_config"):
        load(ckpt)


# --- 3. inputs that used to be accepted, or crashed late ------------------------------------------

@pytest.mark.parametrize("option,value,message", [
    ("--seq-len", "1024", "--seq-len 1024: must be between 8 and the model's max_position_embeddings (512)"),
    ("--warmup", "-1", "--warmup -1.0: must be a fraction in [0, 1)"),
    ("--save-every", "-1", "--save-every -1: must be a whole number of steps"),
    ("--device", "foo", "device 'foo' is not a device torch knows"),
])
def test_bad_options_are_refused_before_any_work(setup, option, value, message):
    out = setup["root"] / "bad"
    r = bertlite(setup, option, value, "--out", str(out))
    assert r.returncode == 1 and no_traceback(r) and message in r.stderr, r.stderr
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_device_cuda_without_a_gpu(setup):
    r = bertlite(setup, "--device", "cuda", "--out", str(setup["root"] / "cuda"))
    assert r.returncode == 1 and no_traceback(r) and "sees no CUDA GPU" in r.stderr


def test_out_that_is_a_file_or_under_a_file(setup):
    file = setup["root"] / "a-file"
    file.write_text("not a folder")
    for out in (file, file / "run"):
        r = bertlite(setup, "--out", str(out))
        assert r.returncode == 1 and no_traceback(r) and "is a file" in r.stderr, r.stderr
    assert file.read_text() == "not a folder"


@pytest.mark.parametrize("out", ["", "  ", ".", "./"])
def test_an_empty_out_or_the_current_folder_is_refused_and_nothing_is_written(setup, out, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    (here / "config.json").write_text("the user's own file")
    r = bertlite(setup, "--out", out, "--overwrite", cwd=here)
    assert r.returncode == 1 and no_traceback(r) and "a folder of its own" in r.stderr, r.stderr
    assert snapshot(here) == {"config.json": hashlib.sha256(b"the user's own file").hexdigest()}


def test_a_read_only_out_is_refused_before_data_preparation(setup, tmpfs):
    disk = tmpfs("1M", ",ro")
    r = bertlite(setup, "--out", str(disk / "run"))
    assert r.returncode == 1 and no_traceback(r) and "Read-only" in r.stderr and "tokenizing" not in r.stderr


def test_sequences_too_short_to_mask_never_make_the_loss_nan(setup):
    history = run(setup, "short", steps=30, batch_size=1, seq_len=8, log_every=1).history
    assert len(history) == 30 and all(m["loss"] == m["loss"] for m in history)


def test_mask_tokens_gives_every_sequence_a_prediction():
    from bertlite.masking import mask_tokens

    ids = torch.tensor([[2, 7, 3, 0, 0]] * 500)  # [CLS] one word [SEP] [PAD] [PAD]
    special = ids != 7
    _, labels = mask_tokens(ids, special, 100, 4, 0.15, torch.Generator().manual_seed(0))
    assert (labels[:, 1] == 7).all() and (labels[special] == -100).all()
    _, labels = mask_tokens(torch.tensor([[2, 3]]), torch.tensor([[True, True]]), 100, 4)
    assert (labels == -100).all()  # nothing may be chosen: nothing is


def test_a_damaged_cache_entry_is_named_removed_and_rebuilt(setup, capsys):
    cfg = dataclasses.replace(setup["cfg"])
    tok, train, held = runs.pretraining_pairs(cfg, progress=False)
    entries = list((setup["root"] / "cache" / "data").glob("nsp-*.pt"))
    assert entries and all((e.parent / (e.name + ".sha256")).exists() for e in entries)
    for e in entries:
        e.write_bytes(e.read_bytes()[:3000])  # truncated, as by a full disk or a kill mid-copy
    capsys.readouterr()
    tok2, train2, held2 = runs.pretraining_pairs(cfg, progress=False)
    assert "removing it and rebuilding it" in capsys.readouterr().out
    assert train2.fingerprint() == train.fingerprint() and held2.fingerprint() == held.fingerprint()


# --- 4. interruptions: real signals ---------------------------------------------------------------

def wait_for(proc, condition, what, timeout=120):
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None and time.time() < deadline, (what, proc.communicate())
        time.sleep(0.02)


def test_two_quick_ctrl_cs_stop_at_once_and_leave_nothing_half_written(setup):
    out = setup["root"] / "twice"
    cmd = [sys.executable, "-m", "bertlite", "pretrain", "--steps", "5000", "--log-every", "1", "--save-every", "3",
           "--out", str(out), *setup["args"]]
    proc = subprocess.Popen(cmd, env=setup["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    wait_for(proc, lambda: metrics.exists() and metrics.read_text().count("\n") >= 4, "training")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert "stopped at once, without saving" in stderr or "stopped at step" in stdout
    assert not list(out.glob(".*tmp")) and not (out / "run.lock").exists()
    for path in checkpoints_by_step(out).values():
        load_checkpoint(path)  # every checkpoint left is whole


def test_ctrl_c_during_data_preparation(setup, tmp_path):
    env = dict(setup["env"], BERTLITE_CACHE=str(tmp_path / "cold"))
    big = write_corpus(tmp_path / "big", n_sentences=3000)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "bertlite", "pretrain", "--out", str(out), *setup["args"], "--corpus", str(big)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # the CLI says what it does before the data work starts
    assert "preparing" in first, first
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert "No checkpoint was written" in stderr
    assert not (out / "run.lock").exists()
    for entry in (tmp_path / "cold").rglob("*"):  # the cache holds only whole entries
        assert not entry.name.endswith(".tmp"), entry


def test_cached_result_computes_once_per_params(tmp_path, monkeypatch):
    from bertlite.cache import cached_result

    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path))
    calls = []
    compute = lambda: calls.append(1) or {"loss": [1.5, 2.5]}  # noqa: E731
    assert cached_result("sweep", {"rate": 0.15}, compute) == {"loss": [1.5, 2.5]}
    assert cached_result("sweep", {"rate": 0.15}, compute) == {"loss": [1.5, 2.5]} and len(calls) == 1
    cached_result("sweep", {"rate": 0.4}, compute)
    cached_result("sweep", {"rate": 0.15}, compute, recompute=True)
    assert len(calls) == 3
    entry = next((tmp_path / "results").glob("sweep-*.json"))
    entry.write_text("{}")  # damaged: noticed by its checksum and computed again
    cached_result("sweep", {"rate": 0.15}, compute)
    cached_result("sweep", {"rate": 0.4}, compute)
    assert len(calls) == 4


def test_a_stored_result_is_read_when_the_cache_has_none_and_never_deleted(tmp_path, monkeypatch):
    import shutil

    from bertlite.cache import cached_result

    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path / "made"))
    calls = []
    compute = lambda: calls.append(1) or {"acc": [0.5]}  # noqa: E731
    cached_result("exp", {"seed": 0}, compute)  # made once, then shipped: copied to a stored folder
    stored = tmp_path / "stored"
    shutil.copytree(tmp_path / "made" / "results", stored)
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path / "fresh"))  # a new machine: an empty cache
    assert cached_result("exp", {"seed": 0}, compute, stored=stored) == {"acc": [0.5]} and len(calls) == 1
    cached_result("exp", {"seed": 0}, compute, stored=stored, recompute=True)
    assert len(calls) == 2
    entry = next(stored.glob("exp-*.json"))
    entry.write_text('{"acc": [0.9]}')  # edited by hand: its checksum says so
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path / "fresher"))
    assert cached_result("exp", {"seed": 0}, compute, stored=stored) == {"acc": [0.5]} and len(calls) == 3
    assert entry.read_text() == '{"acc": [0.9]}'  # a shipped file is never deleted or rewritten


def test_atomic_write_gives_a_file_the_usual_permissions(tmp_path):
    """A writer that creates its file for its owner only (safetensors does) still leaves a file
    with the permissions the umask gives every other file."""
    import os
    import stat

    from bertlite.cache import atomic_write

    def private_writer(p):
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"weights")
        os.close(fd)

    atomic_write(tmp_path / "model.safetensors", private_writer)
    atomic_write(tmp_path / "config.json", "{}")
    modes = {stat.S_IMODE((tmp_path / n).stat().st_mode) for n in ("model.safetensors", "config.json")}
    assert len(modes) == 1
