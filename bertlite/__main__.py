"""The command line: `python -m bertlite pretrain ...` (or `bertlite pretrain ...`).

    python -m bertlite pretrain --preset tiny --out runs/tiny
    python -m bertlite pretrain --preset mini --steps 20000 --batch-size 128 --out runs/mini --compile
    torchrun --nproc_per_node=4 -m bertlite pretrain --preset small --out runs/small
"""

import argparse
import os
import sys

from .config import PRESETS

EXAMPLES = """examples:
  python -m bertlite pretrain --preset tiny --out runs/tiny          # lesson 07's run, about 4 min on 2 CPU cores
  python -m bertlite pretrain --preset tiny --out runs/tiny --resume # continue it after Ctrl-C
  python -m bertlite pretrain --preset tiny --out runs/tiny --overwrite --lr 5e-4   # delete it, start again
  python -m bertlite pretrain --preset mini --steps 20000 --batch-size 128 --seq-len 128 --out runs/mini --compile
  torchrun --nproc_per_node=4 -m bertlite pretrain --preset small --out runs/small   # 4 GPUs (or CPU processes)

Ctrl-C (or SIGTERM) saves a checkpoint at the current step and stops; --resume continues it.
A folder holds one run: a second process is kept out by OUT/run.lock, and a fresh run into a
folder that holds a run is refused unless you pass --overwrite.
Writes OUT/metrics.jsonl, OUT/checkpoint-*.pt (the latest two), OUT/vocab.txt, OUT/config.json,
OUT/loss.png, OUT/accuracy.png.
"""


def build_parser():
    from .pretraining import PretrainConfig

    d = PretrainConfig()
    parser = argparse.ArgumentParser(prog="bertlite", description="bertlite: a small but real BERT, built one lesson at a time.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "pretrain", help="pre-train a BERT with MLM + NSP (lessons 07 and 10)",
        description="Pre-train BertForPreTraining with masked-LM and next-sentence prediction. "
                    "Data order and masking depend only on (--seed, step), so a run stopped at any "
                    "step and resumed ends exactly where an uninterrupted run ends.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument_group("model and data")
    a.add_argument("--preset", choices=[k for k in PRESETS if k != "large"], default=d.preset,
                   help=f"the model's shape, one of the official BERT sizes (default {d.preset})")
    a.add_argument("--corpus", default=d.corpus,
                   help="'sotu' (the embedded State of the Union addresses, the default), a UTF-8 .txt "
                        "file, a folder of .txt files (one document each), or 'wikitext103' (downloaded "
                        "once when online)")
    a.add_argument("--vocab-size", type=int, default=d.vocab_size,
                   help=f"WordPiece vocabulary, learned from the corpus on first use and cached (default {d.vocab_size})")
    a.add_argument("--seq-len", type=int, default=d.seq_len, help=f"longest sequence in tokens (default {d.seq_len})")
    a.add_argument("--mlm-probability", type=float, default=d.mlm_probability,
                   help=f"fraction of tokens chosen for the MLM loss (default {d.mlm_probability})")
    a.add_argument("--no-nsp", action="store_true", help="MLM only, on contiguous text, without the NSP loss (RoBERTa)")
    a.add_argument("--pre-ln", action="store_true", help="pre-LN blocks instead of BERT's post-LN")
    a.add_argument("--dropout", type=float, default=d.dropout,
                   help=f"dropout in the encoder (default {d.dropout}; BERT used 0.1, which helps long runs)")
    a.add_argument("--dense-mlm", action="store_true",
                   help="run the MLM decoder at every position (slower). By default it runs only at the "
                        "masked positions, which gives the same loss.")
    t = p.add_argument_group("training")
    t.add_argument("--steps", type=int, default=d.steps, help=f"total optimizer steps: the schedule's length (default {d.steps})")
    t.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"sequences per step per process; with torchrun the global batch is this × processes (default {d.batch_size})")
    t.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate of AdamW (default {d.lr:g})")
    t.add_argument("--warmup", type=float, default=d.warmup,
                   help=f"fraction of the steps for linear warmup, then linear decay to 0 (default {d.warmup})")
    t.add_argument("--held-out", type=float, default=d.held_out,
                   help=f"fraction of the pairs kept out of training and scored at the end (default {d.held_out:g})")
    t.add_argument("--seed", type=int, default=d.seed, help=f"seeds the model, the data order and the masking (default {d.seed})")
    r = p.add_argument_group("running")
    r.add_argument("--out", default="runs/pretrain", help="folder for checkpoints, metrics and plots (default runs/pretrain)")
    r.add_argument("--log-every", type=int, default=d.log_every, help=f"log metrics every K steps (default {d.log_every})")
    r.add_argument("--save-every", type=int, default=d.save_every,
                   help="also save a checkpoint every K steps (default 0: only at the end and on Ctrl-C)")
    r.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    r.add_argument("--overwrite", action="store_true",
                   help="delete the run already in --out (checkpoints, metrics, plots) and start again; "
                        "without it, a folder that holds a run is refused")
    r.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: cuda, then mps, then cpu)")
    r.add_argument("--compile", action="store_true", help="torch.compile the model (faster on GPUs after a warm-up)")
    return parser


def pretrain_command(args):
    from .pretraining import PretrainConfig, evaluate, held_out_batches, run_pretraining

    cfg = PretrainConfig(
        preset=args.preset, corpus=args.corpus, vocab_size=args.vocab_size, steps=args.steps,
        batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr, warmup=args.warmup,
        mlm_probability=args.mlm_probability, no_nsp=args.no_nsp, pre_ln=args.pre_ln, dropout=args.dropout,
        sparse_mlm=not args.dense_mlm, held_out=args.held_out, seed=args.seed, device=args.device, compile=args.compile,
        log_every=args.log_every, save_every=args.save_every, out=args.out)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"bertlite pretrain: the {cfg.preset} model on {cfg.corpus}, {cfg.steps} steps, into {cfg.out}"
              f"{' (resuming)' if args.resume else ''}; preparing the data (cached after the first run) ...", flush=True)
    try:
        model, _, history = run_pretraining(cfg, resume=args.resume, overwrite=args.overwrite)
    except KeyboardInterrupt:  # Ctrl-C before the loop, or a second Ctrl-C inside it
        from .checkpoints import latest_checkpoint

        last = latest_checkpoint(cfg.out) if os.path.isdir(cfg.out) else None
        print(f"\nstopped at once, without saving. {f'The last checkpoint is {last}; continue with --resume.' if last else 'No checkpoint was written.'} "
              f"Nothing else was written half-way (every write is atomic).", file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 reports
        return 0
    last = history[-1] if history else {}
    if getattr(model, "stopped_at", None) is not None:
        print(f"stopped at step {model.stopped_at} of {cfg.steps}; checkpoint saved in {cfg.out}. "
              f"Continue with the same command plus --resume.")
        return 128 + model.stop_signal if model.stop_signal else 0  # 130 after Ctrl-C, as shells expect
    nsp = "" if last.get("nsp_acc") is None else f", NSP accuracy {last['nsp_acc']:.3f}"
    print(f"done: {cfg.steps} steps, loss {last.get('loss', float('nan')):.3f}, "
          f"MLM accuracy {last.get('mlm_acc', float('nan')):.3f}{nsp}. Wrote {cfg.out}/")
    batches = held_out_batches(cfg)
    if batches is not None:
        m = evaluate(model, batches, range(len(batches)))
        nsp = "" if m["nsp_acc"] is None else f", NSP accuracy {m['nsp_acc']:.3f}"
        print(f"held out ({len(batches.dataset)} pairs never trained on): loss {m['loss']:.3f}, "
              f"MLM accuracy {m['mlm_acc']:.3f}{nsp}")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "pretrain":
            return pretrain_command(args)
    except (ValueError, TypeError, OSError, FloatingPointError) as e:  # FileNotFoundError, ConnectionError are OSErrors
        print(f"bertlite {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
