"""Course tool: the command line, `python -m bertlite pretrain ...` (or `bertlite pretrain ...`), lessons 07, 08 and 10.

`pretrain` is lessons 07 and 10's; `export` and `fill-mask` (lesson 08) share a model with Hugging
Face and try it out. `doctor`, `prepare` and `reset` are for workshops (INSTRUCTORS.md): check a
machine, fill the caches before the day, give a learner a fresh copy of a lesson. `assemble` and
`progress` turn a learner's notebooks into their own package and a room's reports into one table.
Each command is one `*_parser` function below, which names the function its `run` calls: there is
one way to reach each (`bertlite COMMAND` is the same `main`).

Every option of `pretrain` is a field of PretrainConfig (pretraining.py): the parser is built from
the fields, their defaults and their help, so the three can never disagree.
"""

import argparse
import dataclasses
import importlib
import json
import os
import sys
from pathlib import Path

EXAMPLES = """examples:
  python -m bertlite pretrain --out runs/tiny                   # lesson 07's recipe (its run time: README)
  python -m bertlite pretrain --out runs/tiny --resume          # continue it after Ctrl-C
  python -m bertlite pretrain --out runs/tiny --overwrite --lr 5e-4   # delete it, start again
  python -m bertlite pretrain --preset mini --steps 20000 --batch-size 128 --seq-len 128 --out runs/mini --compile
  torchrun --nproc_per_node=4 -m bertlite pretrain --preset small --out runs/small   # 4 GPUs (or CPU processes)

Ctrl-C (or SIGTERM) saves a checkpoint at the current step and stops; --resume continues it.
A folder holds one run: a second process is kept out by OUT/run.lock, and a fresh run into a
folder that holds a run is refused unless you pass --overwrite.
Writes OUT/metrics.jsonl, OUT/checkpoint-*.pt (the latest two), OUT/vocab.txt, OUT/config.json,
OUT/loss.png, OUT/accuracy.png, and scores the held-out pairs at the end.
"""


def add_config_options(parser, config_class):
    """One option per field of a config dataclass: --seq-len for seq_len, its default and help
    from the field. A bool field is a switch (named by its `flag` metadata when the switch turns
    a default True off); a field with `group` metadata starts a new group of options."""
    group = parser
    for f in dataclasses.fields(config_class):
        meta = dict(f.metadata)
        if "group" in meta:
            group = parser.add_argument_group(meta["group"])
        name = meta.get("flag", "--" + f.name.replace("_", "-"))
        if f.type in (bool, "bool"):
            action = "store_false" if f.default else "store_true"
            group.add_argument(name, dest=f.name, action=action, default=f.default, help=meta["help"])
            continue
        kind = {"int": int, "float": float}.get(str(f.type), str)
        shown = "" if f.default is None else f" (default {f.default:g})" if kind is float else f" (default {f.default})"
        group.add_argument(name, dest=f.name, type=kind, default=f.default, choices=meta.get("choices"),
                           metavar=None if meta.get("choices") else f.name.upper(), help=meta["help"] + shown)


def pretrain_parser(commands):
    from ..pretraining import PretrainConfig

    p = commands.add_parser(
        "pretrain", help="pre-train a BERT with MLM + NSP (lessons 07 and 10)",
        description="Pre-train BertForPreTraining with masked-LM and next-sentence prediction. "
                    "Data order and masking depend only on (--seed, step), so a run stopped at any "
                    "step and resumed ends exactly where an uninterrupted run ends.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(p, PretrainConfig)
    p.set_defaults(out="runs/pretrain", run=pretrain_command)
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the run already in --out (checkpoints, metrics, plots) and start again; "
                        "without it, a folder that holds a run is refused")


def export_parser(commands):
    e = commands.add_parser(
        "export", help="write a model as a Hugging Face BERT folder (lesson 08)",
        description="Write SRC as a Hugging Face BERT folder DIR (config.json, model.safetensors, vocab.txt, "
                    "tokenizer_config.json, special_tokens_map.json) that transformers' from_pretrained loads.",
        epilog="examples:\n  python -m bertlite export runs/tiny exported/tiny\n"
               "  python -m bertlite export runs/tiny/checkpoint-0001000.pt exported/tiny-1000\n"
               "  python -m bertlite export finetuned/sentiment exported/sentiment --dtype float16",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    e.set_defaults(run=export_command)
    e.add_argument("source", metavar="SRC", help="a run folder (checkpoint-*.pt and vocab.txt), a checkpoint "
                                                 "file, or a Hugging Face BERT folder, a fine-tuned one included "
                                                 "(lesson 09's save_pretrained)")
    e.add_argument("directory", metavar="DIR", help="the folder to write")
    e.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32",
                   help="the stored weights' type: float16 halves the folder (default float32)")


def fill_mask_parser(commands):
    f = commands.add_parser(
        "fill-mask", help="the most probable words for each [MASK] in a text (lesson 08)",
        description="Print the top-k completions of each [MASK] in TEXT, with their probabilities.",
        epilog='example:\n  python -m bertlite fill-mask --model runs/tiny "the [MASK] of the union" --top-k 5',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    f.set_defaults(run=fill_mask_command)
    f.add_argument("--model", required=True, metavar="DIR",
                   help="a run folder, an exported folder, or any Hugging Face BERT folder with an MLM head")
    f.add_argument("text", metavar="TEXT", help="a text with one or more [MASK]")
    f.add_argument("--top-k", type=int, default=5, help="how many completions per [MASK] (default 5)")


def doctor_parser(commands):
    d = commands.add_parser(
        "doctor", help="is this machine ready for the course? one line per check, in under a minute",
        description="Check Python, every dependency against its floor, the torch build and device (a tiny "
                    "forward and backward, compared with the CPU on a GPU), the Jupyter kernel, the cache "
                    "folder, the corpus, the sentiment data, and estimate lesson 07's run time. Prints OK, WARN "
                    "or FAIL per check, each with its fix; exits 1 when anything FAILs.")
    d.set_defaults(run=lambda args: tool("doctor").main(online=not args.offline))
    d.add_argument("--offline", action="store_true", help="do not try to download anything")


def prepare_parser(commands):
    r = commands.add_parser(
        "prepare", help="fill every cache the course reads, so the lessons run offline (before a workshop)",
        description="Learn the vocabulary, tokenize the pre-training pairs, download the sentiment data and "
                    "check the course checkpoint; finished steps are skipped when run again.",
        epilog="examples:\n  python -m bertlite prepare\n  python -m bertlite prepare --pretrain --notebooks",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    r.set_defaults(run=lambda args: tool("prepare").main(pretrain=args.pretrain, notebooks=args.notebooks))
    r.add_argument("--pretrain", action="store_true",
                   help="also pre-train lesson 07's model, which lessons 09 and 10 read (minutes on a CPU)")
    r.add_argument("--notebooks", action="store_true",
                   help="also run every solution notebook once, in a temporary copy, to fill what lessons "
                        "compute themselves (lesson 05's experiments alone take about 4 min on 2 cores)")


def reset_parser(commands):
    z = commands.add_parser(
        "reset", help="a fresh copy of one lesson; the learner's copy is kept as a backup beside it",
        description="Replace lessons/NN_topic.ipynb with a fresh copy (made from solutions/ as "
                    "tools/make_lessons.py makes it). The learner's copy is first kept as "
                    "NN_topic.backup-YYYYmmdd-HHMMSS.ipynb beside it: nothing is lost.",
        epilog="examples:\n  python -m bertlite reset 3\n  python -m bertlite reset 05_masked_lm --lessons my-lessons",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    z.set_defaults(run=lambda args: tool("reset").main(args.lesson, args.lessons))
    z.add_argument("lesson", metavar="NN", help="the lesson's number (3 or 03) or name (03_attention)")
    z.add_argument("--lessons", default="lessons", metavar="DIR",
                   help="the folder that holds the learner's lessons (default lessons)")


def assemble_parser(commands):
    a = commands.add_parser(
        "assemble", help="your notebooks become your own bertlite package, with a progress report",
        description="Write OUT/bertlite/: the reference package with every definition you wrote in a "
                    "`# bertlite/<module>.py` cell put in place of the reference's (an exercise not attempted "
                    "yet keeps the reference). Then run every exercise's check on it, each in its own process "
                    "with a time limit, and report: passed, failed, not attempted or broken. Your notebooks are "
                    "only read. Exits 1 when a check fails or something is broken.",
        epilog="examples:\n  python -m bertlite assemble\n"
               "  python -m bertlite assemble --json > report.json     # for your instructor: no code inside\n"
               "  cd mine && python -m bertlite pretrain --out ../runs/mine   # pre-train your own BERT",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    a.set_defaults(run=lambda args: tool("assemble").main(args.lessons, args.out, args.json, args.who,
                                                          args.timeout, args.verify))
    a.add_argument("--lessons", default="lessons", metavar="DIR", help="your lesson notebooks (default lessons)")
    a.add_argument("--out", default="mine", metavar="DIR", help="where to write bertlite/ (default mine)")
    a.add_argument("--json", action="store_true", help="print the report as JSON (the format: INSTRUCTORS.md)")
    a.add_argument("--who", default=None, help="your name in the JSON report (default: none; the file's name is used)")
    a.add_argument("--timeout", type=float, default=60.0, help="seconds each check may run (default 60)")
    a.add_argument("--verify", action="store_true",
                   help="then prove it is BERT: BertModel and the pre-training loss against transformers (both "
                        "attention paths), the tokenizer against BertTokenizer, the masking rates, the parameter "
                        "formula; prints 'your BERT is BERT: max diff ...' or the first piece that differs")


def progress_parser(commands):
    g = commands.add_parser(
        "progress", help="a room's table from many `assemble --json` reports: who is stuck where",
        description="One row per exercise, one column per report: passed, failed, not attempted or broken.")
    g.set_defaults(run=lambda args: tool("report").main(args.reports))
    g.add_argument("reports", nargs="+", metavar="REPORT.json")


COMMANDS = [pretrain_parser, export_parser, fill_mask_parser, doctor_parser, prepare_parser, reset_parser,
            assemble_parser, progress_parser]  # in the order `--help` lists them


def tool(name):
    """A course tool's module, imported when its command runs (so `--help` stays fast)."""
    return importlib.import_module(f"{__package__}.{name}")


def build_parser():
    parser = argparse.ArgumentParser(prog="bertlite", description="bertlite: a small but real BERT, built one lesson at a time.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    return parser


def export_command(args):
    import torch

    from .. import task_models
    from ..export import copy_run_records, save_pretrained
    from ..pretrained import architecture, load_model

    name, labels = architecture(args.source)  # a fine-tuned folder names its lesson-09 class
    model_class = getattr(task_models, name, None) if name and name.startswith("BertFor") else None
    if not isinstance(model_class, type):
        model_class, labels = None, None  # the pre-training model or BertModel: from_pretrained picks
    model, tokenizer = load_model(args.source, model_class=model_class)
    if type(model).__name__ in ("BertForQuestionAnswering", "BertForMultipleChoice"):
        labels = None  # their config.json's labels are Hugging Face's defaults, not a classifier's
    save_pretrained(model, tokenizer, args.directory, labels=labels, dtype=getattr(torch, args.dtype))
    records = copy_run_records(args.source, args.directory) if Path(args.source).is_dir() else []
    print(f"wrote {type(model).__name__} ({model.config.num_hidden_layers} layers, hidden size "
          f"{model.config.hidden_size}, {tokenizer.vocab_size} tokens, {args.dtype}"
          f"{''.join(', ' + r for r in records)}) to {args.directory}/ ; load it with "
          f"transformers.{type(model).__name__}.from_pretrained({str(args.directory)!r})")
    return 0


def fill_mask_command(args):
    from ..export import fill_mask
    from ..pretrained import load_model

    model, tokenizer = load_model(args.model, strict=False)  # a BertForMaskedLM folder has no pooler, no NSP
    completions = fill_mask(model, tokenizer, args.text, args.top_k)
    for n, top in enumerate(completions, 1):
        print(f"[MASK] {n} of {len(completions)}:")
        for rank, (token, p) in enumerate(top, 1):
            print(f"  {rank:2d}. {token:<20} {p:.4f}")
    return 0


def pretrain_command(args):
    from ..checkpoints import latest_checkpoint
    from ..pretraining import PretrainConfig
    from ..pretraining_runs import run_pretraining

    cfg = PretrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainConfig)})
    rank0 = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 reports
    if rank0:
        print(f"bertlite pretrain: the {cfg.preset} model on {cfg.corpus}, {cfg.steps} steps, into {cfg.out}"
              f"{' (resuming)' if args.resume else ''}; preparing the data (cached after the first run) ...", flush=True)
    try:
        result = run_pretraining(cfg, resume=args.resume, overwrite=args.overwrite)
    except KeyboardInterrupt:  # Ctrl-C before the loop, or a second Ctrl-C inside it
        last = latest_checkpoint(cfg.out) if os.path.isdir(cfg.out) else None
        where = f"The last checkpoint is {last}; continue with --resume." if last else "No checkpoint was written."
        print(f"\nstopped at once, without saving. {where} Nothing was left half-written (every write is atomic).",
              file=sys.stderr)
        return 130
    if not rank0:
        return 0
    if result.stopped_at is not None:
        print(f"stopped at step {result.stopped_at} of {cfg.steps}; checkpoint saved in {cfg.out}. "
              f"Continue with the same command plus --resume.")
        return 128 + result.stop_signal if result.stop_signal else 0  # 130 after Ctrl-C, as shells expect
    last = result.history[-1] if result.history else {}
    nsp = "" if last.get("nsp_acc") is None else f", NSP accuracy {last['nsp_acc']:.3f}"
    print(f"done: {cfg.steps} steps, loss {last.get('loss', float('nan')):.3f}, "
          f"MLM accuracy {last.get('mlm_acc', float('nan')):.3f}{nsp}. Wrote {cfg.out}/")
    from ..pretraining_runs import keep_in_cache

    if keep_in_cache(cfg):
        print("this is lesson 07's recipe: the model is also kept in the cache, where lessons 09 and 10 read it")
    if result.held_out:
        m = result.held_out
        nsp = "" if m["nsp_acc"] is None else f", NSP accuracy {m['nsp_acc']:.3f}"
        print(f"held out ({m['pairs']} pairs never trained on): loss {m['loss']:.3f}, "
              f"MLM accuracy {m['mlm_acc']:.3f}{nsp}")
    return 0


def main(argv=None):
    """`python -m bertlite COMMAND ...`, and the `bertlite` script: each command's `run` does its work."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError, FloatingPointError) as e:  # FileNotFoundError, ConnectionError: OSErrors
        print(f"bertlite {args.command}: error: {e}", file=sys.stderr)
        return 1
