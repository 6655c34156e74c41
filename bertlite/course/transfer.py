"""Course tool, lesson 09's experiment runner: what pre-training buys, measured. One fine-tuning recipe from three starting points,
for label counts from about a hundred to all, two budgets, and several seeds.

    rows = transfer_experiment("sentiment", label_counts=(100, 1000, None), budgets=(150, 600))

The starting points (INITS):
- "random": BERT's random initialisation, in the course checkpoint's shape and vocabulary;
- "lesson 07": the tiny encoder lesson 07 pre-trained (runs.lesson07_model);
- "course": the course checkpoint, reference_runs/course/ (README: how it was trained).

Each row is one run: task, init, labels, steps, seed and test accuracy. Within a seed every
starting point gets the same labelled sample and the same order of batches, so the comparison is
paired. Finished runs are kept in the cache (experiments/), so a second notebook that asks for the
same recipe reads them back, and an interrupted experiment continues where it stopped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import statistics
import time
from pathlib import Path

from ..cache import atomic_write, cache_dir, sha256_file
from ..task_training import fine_tune, predict
from ..task_models import BertForSequenceClassification, load_encoder
from ..flops import flops_per_token
from ..task_metrics import accuracy
from ..pretrained import from_pretrained
from ..pretraining import PretrainConfig
from ..pretraining_runs import lesson07_model, pretrained_dir
from ..data.task_data import held_out_documents, sentence_order_task, sentiment_task
from ..task_encoding import encode_texts
from ..utils import pick_device, seed_everything

INITS = ("random", "lesson 07", "course")
COURSE_CHECKPOINT = Path(__file__).resolve().parents[2] / "reference_runs" / "course"
TASKS = {"sentiment": sentiment_task, "sentence order": lambda: sentence_order_task(held_out_documents())}
RECIPE = {"lr": 2e-4, "batch_size": 32, "max_length": 64}  # lesson 09's fine-tuning recipe
GRIDS = {"sentiment": (100, 1000, None), "sentence order": (100, None)}  # the label counts lesson 09 shows


def course_model():
    """(BertForPreTraining, tokenizer): the course checkpoint that ships with the repository."""
    if not (COURSE_CHECKPOINT / "config.json").is_file():
        raise FileNotFoundError(f"the course checkpoint is not at {COURSE_CHECKPOINT}: it ships with the "
                                f"repository (git clone it whole), and README.md gives the command that trains it.")
    return from_pretrained(COURSE_CHECKPOINT)


@functools.lru_cache(maxsize=None)
def starting_point(init):
    """(encoder or None for a random start, its BertConfig, its tokenizer)."""
    if init not in INITS:
        raise ValueError(f"init={init!r}: use one of {', '.join(map(repr, INITS))}.")
    model, tokenizer = lesson07_model() if init == "lesson 07" else course_model()
    return (None if init == "random" else model.bert), model.config, tokenizer


@functools.lru_cache(maxsize=None)
def task_splits(task):
    if task not in TASKS:
        raise ValueError(f"task={task!r}: use one of {', '.join(map(repr, TASKS))}.")
    return TASKS[task]()


def labelled_sample(task, n, seed):
    """The first training examples of a seeded shuffle: n of them (all when n is None)."""
    train = list(task_splits(task)["train"])
    random.Random(seed).shuffle(train)
    return train if n is None else train[:n]


def fine_tune_once(task, init, labels, steps, seed, device=None):
    """Fine-tune a classifier from `init` on `labels` examples for `steps` steps; test accuracy."""
    encoder, config, tokenizer = starting_point(init)
    train = encode_texts(tokenizer, labelled_sample(task, labels, seed), RECIPE["max_length"])
    test = encode_texts(tokenizer, task_splits(task)["test"], RECIPE["max_length"])
    seed_everything(seed)
    model = BertForSequenceClassification(config, num_labels=2)
    if encoder is not None:
        load_encoder(model, encoder)
    model.to(device or pick_device())
    fine_tune(model, train, steps, lr=RECIPE["lr"], batch_size=RECIPE["batch_size"], seed=seed, progress=False)
    return accuracy(predict(model, test).argmax(-1), test["labels"])


@functools.cache
def _sha256(path, mtime_ns, size):  # keyed on the file's stamp, so an edited file is hashed again
    return sha256_file(path)


def experiment_file(task):
    """Where a task's runs are kept: the key covers the recipe and the starting points' weights."""
    identity = [RECIPE, task, pretrained_dir(PretrainConfig(out=None)).name]  # lesson 07's recipe
    weights = COURSE_CHECKPOINT / "model.safetensors"
    if weights.is_file():
        stat = weights.stat()
        identity.append(_sha256(str(weights), stat.st_mtime_ns, stat.st_size))
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
    return cache_dir() / "experiments" / f"transfer-{task.replace(' ', '-')}-{key}.json"


def transfer_experiment(task, label_counts=(100, 1000, None), budgets=(150, 600), seeds=(0, 1, 2),
                        inits=INITS, progress=True):
    """Every (labels, steps, seed, init) run, as rows; runs already in the cache are read back."""
    from tqdm.auto import tqdm

    for init in inits:
        starting_point(init)  # a missing checkpoint fails now, before any run
    file = experiment_file(task)
    done = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else []
    key = lambda r: (r["init"], r["labels"], r["steps"], r["seed"])  # noqa: E731
    have = {key(r): r for r in done}
    n_all = len(task_splits(task)["train"])
    wanted = [{"task": task, "init": init, "labels": n or n_all, "steps": steps, "seed": seed}
              for n in label_counts for steps in budgets for seed in seeds for init in inits]
    todo = [r for r in wanted if key(r) not in have]
    if todo and progress:
        print(f"{task}: {len(wanted) - len(todo)} of {len(wanted)} runs read from the cache; "
              f"fine-tuning the other {len(todo)} ({sum(r['steps'] for r in todo)} steps in all)")
    for row in tqdm(todo, desc=f"{task} runs", unit="run", disable=not progress):
        t0 = time.time()
        n = None if row["labels"] == n_all else row["labels"]
        row["accuracy"] = fine_tune_once(task, row["init"], n, row["steps"], row["seed"])
        row["seconds"] = round(time.time() - t0, 1)
        have[key(row)] = row
        atomic_write(file, json.dumps(list(have.values()), indent=1) + "\n")  # a stop loses one run at most
    return [have[key(r)] for r in wanted]


def stored_file(task, folder=COURSE_CHECKPOINT):
    return Path(folder) / f"transfer-{task.replace(' ', '-')}.json"


def stored_runs(task):
    """The course's own runs of the experiment for `task`, shipped in reference_runs/course/
    (`python -m bertlite.course.transfer` made them; reference_runs/README.md: the machine)."""
    file = stored_file(task)
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing: it ships with the repository.")
    return json.loads(file.read_text(encoding="utf-8"))


def pretraining_flops(init):
    """The training FLOPs a starting point's pre-training took (0 for "random"), counted as
    flops.py counts them, with the MLM head where it ran, as if every sequence were full length."""
    if init == "random":
        return 0.0
    cfg = PretrainConfig()  # lesson 07's recipe
    if init == "course":
        cfg = PretrainConfig(**json.loads((COURSE_CHECKPOINT / "pretrain_config.json").read_text(encoding="utf-8")))
    config = starting_point(init)[1]
    mlm_fraction = cfg.mlm_probability if cfg.sparse_mlm else 1.0
    return flops_per_token(config, cfg.seq_len, mlm_fraction) * cfg.steps * cfg.batch_size * cfg.seq_len


def summarize(rows):
    """{(init, labels, steps): (mean, lowest, highest, n)} of test accuracy over the seeds."""
    groups = {}
    for r in rows:
        groups.setdefault((r["init"], r["labels"], r["steps"]), []).append(r["accuracy"])
    return {k: (statistics.mean(v), min(v), max(v), len(v)) for k, v in groups.items()}


def majority_accuracy(task):
    """Test accuracy of always answering the training set's most common label."""
    labels = [e.label for e in task_splits(task)["train"]]
    common = max(set(labels), key=labels.count)
    test = [e.label for e in task_splits(task)["test"]]
    return test.count(common) / len(test)


def plot_transfer(rows, task, ax_per_budget):
    """One panel per budget: test accuracy against labelled examples, one line per starting
    point (the mean over seeds), every seed as a dot, the majority answer dashed."""
    table = summarize(rows)
    budgets = sorted({r["steps"] for r in rows})
    for ax, steps in zip(ax_per_budget, budgets):
        for init in dict.fromkeys(r["init"] for r in rows):
            xs = sorted({r["labels"] for r in rows if r["init"] == init and r["steps"] == steps})
            line, = ax.plot(xs, [table[init, x, steps][0] for x in xs], marker="o", label=init)
            seeds = [(r["labels"], r["accuracy"]) for r in rows if r["init"] == init and r["steps"] == steps]
            ax.scatter(*zip(*seeds), s=10, color=line.get_color(), alpha=0.5)
        ax.axhline(majority_accuracy(task), color="0.5", linestyle="--", label="always the most common training label")
        ax.set(xscale="log", xlabel="labelled training examples", title=f"{task}, {steps} fine-tuning steps")
    ax_per_budget[0].set_ylabel("test accuracy")
    ax_per_budget[0].legend()


def main(argv=None):
    """python -m bertlite.course.transfer [--out FOLDER]: run lesson 09's grids (GRIDS, both budgets, three
    seeds; runs already in the cache are read back) and store them where lesson 09 reads them."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bertlite.course.transfer", description=main.__doc__)
    parser.add_argument("--out", type=Path, default=COURSE_CHECKPOINT, help="default: reference_runs/course")
    args = parser.parse_args(argv)
    if not args.out.is_dir():
        parser.error(f"--out {args.out}: no such folder")
    for task, label_counts in GRIDS.items():
        rows = transfer_experiment(task, label_counts=label_counts)
        atomic_write(stored_file(task, args.out), json.dumps(rows, indent=1) + "\n")
        print(f"{task}: {len(rows)} runs -> {stored_file(task, args.out)}")


if __name__ == "__main__":
    main()
