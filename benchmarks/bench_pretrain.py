"""Training throughput: bertlite's BertForPreTraining against transformers' (sdpa).

    python benchmarks/bench_pretrain.py                      # BERT-Mini shape on the CPU
    python benchmarks/bench_pretrain.py --device cuda --preset base --dtype bf16   # + MFU

Both models get the same config, the same weights, the same random batches (15% of the tokens
carry an MLM label, every sequence an NSP label) and the same kind of step: forward, backward,
AdamW. They run in one process, their steps alternated (and the order flipped each step) so a
noisy neighbour slows both alike; the first --warmup steps of each are not timed.

bertlite uses its speed levers (lesson 10): the MLM decoder only at the masked positions
(`sparse_mlm=True`), fused scaled-dot-product attention with no mask when nothing is padded,
and fused AdamW (on CUDA, and on the CPU since torch 2.4). The reference runs as a user would run it out of the box:
`BertForPreTraining.from_config(config, attn_implementation="sdpa")` and torch's default AdamW.
TF32 and the autocast dtype are process-wide, so both models get them.

On CUDA the script also reports MFU (model FLOPs utilisation): achieved FLOP/s over the chip's
peak. Model FLOPs per token come from bertlite.pretraining.flops_per_token, as in PaLM
(Chowdhery et al. 2022, app. B): 6 · (weights a token passes through) + 12 · L · T · H for
attention, with the MLM head counted only at the masked fraction of tokens, since that is all
BERT's objective needs. Both models are credited with the same FLOPs, so the reference's dense
decoder counts as wasted work.
"""

import argparse
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not
from bertlite import BertConfig, BertForPreTraining, load_hf_state_dict  # noqa: E402
from bertlite.masking import IGNORE_INDEX  # noqa: E402
from bertlite.flops import flops_per_token  # noqa: E402

# Dense bf16 tensor-core peaks in TFLOP/s (the vendors' data sheets, without sparsity).
PEAK_BF16_TFLOPS = {
    "H200": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,  # SXM
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
}

CPU_DEFAULTS = dict(batch_size=16, steps=4, warmup=1)
CUDA_DEFAULTS = dict(batch_size=128, steps=20, warmup=5)


def peak_tflops(device_name, dtype):
    """The data-sheet peak for this GPU and dtype, or None if the table does not know it."""
    if dtype not in ("bf16", "fp16"):
        return None  # fp32/TF32 peaks differ; pass --peak-tflops
    for name, tflops in PEAK_BF16_TFLOPS.items():  # the table lists "H100 PCIe" before "H100"
        if name in device_name:
            return tflops
    return None


def make_batches(config, n, batch_size, seq_len, mlm_probability, device, seed=0):
    """n random pre-training batches: [CLS] A [SEP] B [SEP]-shaped ids, masked labels, NSP labels."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n):
        ids = torch.randint(5, config.vocab_size, (batch_size, seq_len), generator=g)
        token_type_ids = torch.zeros_like(ids)
        token_type_ids[:, seq_len // 2:] = 1
        chosen = torch.rand(ids.shape, generator=g) < mlm_probability
        chosen[:, 0] = False  # never [CLS]
        labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
        batch = dict(
            input_ids=ids, token_type_ids=token_type_ids, attention_mask=torch.ones_like(ids),
            mlm_labels=labels, nsp_labels=torch.randint(2, (batch_size,), generator=g),
        )
        batches.append({k: v.to(device) for k, v in batch.items()})
    return batches


def build_models(config, device):
    """The reference and bertlite with the same weights (bertlite loads the reference's)."""
    import transformers

    hf_config = transformers.BertConfig(**{k: v for k, v in config.to_dict().items()
                                           if k not in ("pre_layer_norm", "attn_implementation")})
    reference = transformers.BertForPreTraining._from_config(hf_config, attn_implementation="sdpa")
    ours = BertForPreTraining(config)
    load_hf_state_dict(ours, reference.state_dict())
    return reference.to(device).train(), ours.to(device).train()


def fused_adamw(params, **kwargs):
    """AdamW that updates every tensor in one fused kernel (CUDA; the CPU since torch 2.4),
    instead of a loop of small ops per tensor. Falls back to the default where unsupported."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, **kwargs)


def reference_step(model, batch):
    out = model(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"],
                attention_mask=batch["attention_mask"], labels=batch["mlm_labels"],
                next_sentence_label=batch["nsp_labels"])
    return out.loss


def bertlite_step(model, batch):
    # Nothing is padded in these batches, so no mask: sdpa can then use its fastest kernel.
    # (A training loop decides this once per batch, from the data loader, without a host sync.)
    out = model(batch["input_ids"], batch["token_type_ids"], None,
                batch["mlm_labels"], batch["nsp_labels"], sparse_mlm=True)
    return out.loss


def check_same_loss(reference, ours, batch, atol):
    """Before timing: the two models compute the same loss (dropout off, full precision)."""
    reference.eval(), ours.eval()
    with torch.no_grad():
        a, b = reference_step(reference, batch).item(), bertlite_step(ours, batch).item()
    reference.train(), ours.train()
    if abs(a - b) > atol:
        raise RuntimeError(f"the models disagree before training: loss {a:.6f} vs {b:.6f}")
    return a, b


def run(args):
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    defaults = CUDA_DEFAULTS if device.type == "cuda" else CPU_DEFAULTS
    batch_size = args.batch_size or defaults["batch_size"]
    steps = args.steps or defaults["steps"]
    warmup = defaults["warmup"] if args.warmup is None else args.warmup
    dtype = args.dtype or ("bf16" if device.type == "cuda" else "fp32")
    if dtype == "fp16" and device.type != "cuda":
        raise ValueError("--dtype fp16 needs a CUDA device; on the CPU use fp32 or bf16.")

    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 for whatever still runs in fp32
        torch.backends.cudnn.allow_tf32 = True
    overrides = {} if args.vocab_size is None else dict(vocab_size=args.vocab_size)
    config = BertConfig.from_preset(args.preset, **overrides)
    if args.seq_len > config.max_position_embeddings:
        raise ValueError(f"--seq-len {args.seq_len} exceeds max_position_embeddings={config.max_position_embeddings}.")
    reference, ours = build_models(config, device)
    batches = make_batches(config, 4, batch_size, args.seq_len, args.mlm_probability, device, args.seed)
    check_same_loss(reference, ours, batches[0], atol=1e-4)

    opt_ref = torch.optim.AdamW(reference.parameters(), lr=1e-4, weight_decay=0.01)
    opt_ours = fused_adamw(ours.parameters(), lr=1e-4, weight_decay=0.01)
    scaler = torch.amp.GradScaler("cuda") if dtype == "fp16" else None
    autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)
    autocast = (lambda: torch.autocast(device.type, dtype=autocast_dtype)) if autocast_dtype else nullcontext

    contenders = {
        "transformers": (reference, opt_ref, reference_step),
        "bertlite": (ours, opt_ours, bertlite_step),
    }

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def train_step(name, batch):
        model, optimizer, step = contenders[name]
        sync()
        t0 = time.perf_counter()
        with autocast():
            loss = step(model, batch)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        return time.perf_counter() - t0

    times = {name: [] for name in contenders}
    order = list(contenders)
    for i in range(warmup + steps):
        for name in order if i % 2 == 0 else order[::-1]:  # alternate who goes first
            dt = train_step(name, batches[i % len(batches)])
            if i >= warmup:
                times[name].append(dt)
        if args.verbose:
            print(f"step {i + 1}/{warmup + steps}" + (" (warm-up)" if i < warmup else ""), flush=True)

    tokens = batch_size * args.seq_len
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; dtype {dtype}")
    print(f"config: preset {args.preset} (L{config.num_hidden_layers}/H{config.hidden_size}, "
          f"V={config.vocab_size}), seq_len {args.seq_len}, batch {batch_size}, MLM rate {args.mlm_probability}; "
          f"{steps} timed steps each after {warmup} warm-up")
    fpt = flops_per_token(config, args.seq_len, args.mlm_probability)
    peak = args.peak_tflops or (peak_tflops(name, dtype) if device.type == "cuda" else None)
    rates = {}
    for who, ts in times.items():
        median = statistics.median(ts)
        rates[who] = tokens / median
        line = f"{who:>12}: {median * 1000:8.1f} ms/step (median)   {rates[who]:10,.0f} tokens/s"
        if peak:
            line += f"   MFU {rates[who] * fpt / (peak * 1e12):6.1%}"
        print(line)
    if device.type == "cuda" and not peak:
        print(f"(no MFU: {name!r} is not in the peak table for {dtype}; pass --peak-tflops)")
    if peak:
        print(f"model FLOPs per token: {fpt / 1e6:.1f} M; peak {peak:g} TFLOP/s ({dtype})")
    ratio = rates["bertlite"] / rates["transformers"]
    print(f"ratio (bertlite / transformers tokens/s): {ratio:.2f}x")
    return ratio


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="mini", help="tiny|mini|small|medium|base|large (default mini)")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=None, help=f"default {CPU_DEFAULTS['batch_size']} on CPU, {CUDA_DEFAULTS['batch_size']} on CUDA")
    p.add_argument("--steps", type=int, default=None, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps per model first")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default=None, help="default bf16 on CUDA, fp32 on CPU")
    p.add_argument("--vocab-size", type=int, default=None, help="default 30522 (BERT's uncased vocabulary)")
    p.add_argument("--mlm-probability", type=float, default=0.15)
    p.add_argument("--peak-tflops", type=float, default=None, help="the chip's peak for --dtype, for MFU")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true", help="print each step")
    run(p.parse_args(argv))


if __name__ == "__main__":
    main()
