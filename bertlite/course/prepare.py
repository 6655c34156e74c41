"""Course tool, for workshops: `python -m bertlite prepare`, fill every cache the course reads, before the day.

After it, the lessons run with the network off, and nobody waits for a vocabulary to be learned
or a corpus to be tokenized in the middle of a lesson. Each step is skipped when its cache entry
is there already, so running it twice costs seconds.

    python -m bertlite prepare                  # vocabulary, pre-training pairs, sentiment data
    python -m bertlite prepare --pretrain       # also lesson 07's model (minutes on a CPU)
    python -m bertlite prepare --notebooks      # also run every solution once, in a temporary copy,
                                                # which fills what the lessons compute themselves
                                                # (lesson 01's vocabularies, lesson 05's experiments)
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository, when bertlite is installed from it


def step_vocabulary():
    from ..vocab import corpus_tokenizer

    tokenizer = corpus_tokenizer()
    return f"WordPiece vocabulary of {tokenizer.vocab_size:,} pieces (lessons 01 to 10)"


def step_pairs():
    from ..pretraining import PretrainConfig
    from ..pretraining_runs import pretraining_pairs

    cfg = PretrainConfig()
    _, train, held_out = pretraining_pairs(cfg)
    return f"{len(train) + len(held_out):,} NSP pairs of up to {cfg.seq_len} tokens (lessons 07 and 10)"


def step_sentiment():
    from ..data.task_data import load_movie_reviews

    return f"{len(load_movie_reviews()):,} rated movie-review sentences (lesson 09's sentiment task)"


def step_course_checkpoint():
    from ..pretrained import from_pretrained
    from .transfer import COURSE_CHECKPOINT

    model, _ = from_pretrained(COURSE_CHECKPOINT)
    return (f"the course checkpoint loads ({model.config.num_hidden_layers} layers, H = {model.config.hidden_size}; "
            f"lesson 09)")


def step_pretrain():
    from ..pretraining_runs import lesson07_model

    model, _ = lesson07_model()
    return f"lesson 07's model ({sum(p.numel() for p in model.parameters()):,} parameters; lessons 09 and 10)"


def step_notebooks(solutions=None):
    """Run every solution notebook once in a temporary copy: it fills each cache a lesson fills
    itself. The copies and their outputs are thrown away; no file of the repository changes."""
    from nbclient import NotebookClient
    import nbformat

    folder = Path(solutions or ROOT / "solutions")
    solutions = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not solutions:
        raise FileNotFoundError(f"no solution notebooks in {folder}: --notebooks needs the course's repository")
    with tempfile.TemporaryDirectory() as tmp:  # the notebooks run here: whatever they write is thrown away
        for path in solutions:
            t0 = time.perf_counter()
            copy = Path(tmp) / path.name
            shutil.copyfile(path, copy)
            nb = nbformat.read(copy, as_version=4)
            NotebookClient(nb, timeout=1800, kernel_name="python3",
                           resources={"metadata": {"path": tmp}}).execute()
            print(f"      {path.name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return f"ran {len(solutions)} solution notebook{'s' * (len(solutions) != 1)} once"


def steps(pretrain=False, notebooks=False):
    """[(name, function)] in the order they run: cheap and essential first."""
    out = [("vocabulary", step_vocabulary), ("pre-training pairs", step_pairs),
           ("sentiment data", step_sentiment), ("course checkpoint", step_course_checkpoint)]
    if pretrain:
        out.append(("lesson 07's model", step_pretrain))
    if notebooks:
        out.append(("every lesson's own cache", step_notebooks))
    return out


def main(pretrain=False, notebooks=False):
    from ..cache import cache_dir

    print(f"filling the cache in {cache_dir()} (set BERTLITE_CACHE to move it)", flush=True)
    failed = []
    t_all = time.perf_counter()
    for name, step in steps(pretrain, notebooks):
        t0 = time.perf_counter()
        try:
            done = step()
        except Exception as e:  # noqa: BLE001 - report every step, then fail at the end
            failed.append(name)
            print(f"FAIL  {name}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}",
                  flush=True)
            continue
        print(f"OK    {name}: {done} ({time.perf_counter() - t0:.0f} s)", flush=True)
    total = time.perf_counter() - t_all
    if failed:
        print(f"\n{len(failed)} step(s) failed ({', '.join(failed)}); the others are cached. Fix them and run "
              f"prepare again: finished steps are skipped.")
        return 1
    print(f"\nready in {total:.0f} s: the course now runs offline from {cache_dir()}"
          + ("" if pretrain else ". Lesson 07's model is not cached: add --pretrain (minutes on a CPU), or "
                                 "lessons 09 and 10 train it the first time they run"))
    return 0
