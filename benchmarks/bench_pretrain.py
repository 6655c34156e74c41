"""Training throughput: bertlite's pre-training step against transformers' BertForPreTraining (sdpa).

Run it from a checkout after `pip install -e .`: it imports the installed bertlite.

    python benchmarks/bench_pretrain.py                      # BERT-Mini shape on the CPU
    python benchmarks/bench_pretrain.py --device cuda --preset base --dtype bf16   # + MFU

What is timed is the step `bertlite.pretraining.pretrain` takes, with its own set-up:
`bertlite.pretraining.training_step` (forward under autocast, backward through a GradScaler,
gradients clipped to norm 1.0, the optimizer step, the scheduler step, zero_grad), the optimizer
and schedule of `bertlite.optim.make_optimizer` (AdamW with BERT's two parameter groups, one fused
kernel wherever torch has one, the CPU included; warm-up, then linear decay) and a
`torch.amp.GradScaler` enabled for fp16 only. bertlite's model runs with the sparse MLM head
(`sparse_mlm=True`, pretrain's default) and is given the attention mask, as pretrain gives it.

transformers' `BertForPreTraining.from_config(config, attn_implementation="sdpa")` takes the
same step, with the same recipe, through a thin adapter that renames bertlite's batch keys: only
the model differs. Its MLM decoder runs at every position, as it does out of the box.

Both models get the same config, the same weights (bertlite loads the reference's), the same
random batches (15% of the tokens carry an MLM label, every sequence an NSP label), and are
checked to compute the same loss before anything is timed. They run in one process, their steps
alternated (and the order flipped each step) so that a noisy neighbour slows both alike; the
first --warmup steps of each are not timed. TF32 and the autocast dtype apply to both.

On CUDA the script also reports MFU (model FLOPs utilisation): achieved FLOP/s over the chip's
peak, with bertlite.flops (the one FLOPs formula and peak table that pretrain uses): FLOPs per
token from flops_per_token with the MLM head counted at the masked fraction of the tokens, as
pretrain counts them, the peak from peak_flops (dense bf16/fp16) or --peak-tflops. Both models
are credited with the same FLOPs, so the reference's dense decoder counts as wasted work.
"""

import argparse
import statistics
import time
from dataclasses import dataclass

import torch

from bertlite import BertConfig, BertForPreTraining, load_hf_state_dict
from bertlite.flops import flops_per_token, mfu, peak_flops
from bertlite.masking import IGNORE_INDEX
from bertlite.optim import make_optimizer
from bertlite.pretraining import training_step

CPU_DEFAULTS = dict(batch_size=16, steps=4, warmup=1)
CUDA_DEFAULTS = dict(batch_size=128, steps=20, warmup=5)
# The optimizer recipe for both models (BERT's: lr 1e-4, weight decay 0.01, 10% warm-up).
LR, WARMUP, WEIGHT_DECAY = 1e-4, 0.1, 0.01
AMP_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def chip_peak(device_name, dtype, peak_tflops=None):
    """Peak FLOP/s for the MFU, or None: --peak-tflops if given, else bertlite.flops.peak_flops
    for a GPU's name (None for the CPU). The table holds dense bf16/fp16 peaks, so it is not used
    for fp32 (TF32 peaks differ: pass --peak-tflops)."""
    if peak_tflops:
        return peak_tflops * 1e12
    if device_name is None or dtype not in ("bf16", "fp16"):
        return None
    return peak_flops(device_name)


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


class TransformersAdapter(torch.nn.Module):
    """transformers' BertForPreTraining behind bertlite's batch keys, so that training_step can
    drive it. sparse_mlm is accepted and ignored: transformers' decoder runs at every position."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, token_type_ids, attention_mask, mlm_labels, nsp_labels, sparse_mlm=False):
        return self.model(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask,
                          labels=mlm_labels, next_sentence_label=nsp_labels)  # .loss: MLM + NSP


def build_models(config, device):
    """(reference, bertlite) with the same weights (bertlite loads the reference's); the
    reference wrapped in TransformersAdapter."""
    import transformers

    hf_config = transformers.BertConfig(**{k: v for k, v in config.to_dict().items()
                                           if k not in ("pre_layer_norm", "attn_implementation")})
    reference = transformers.BertForPreTraining._from_config(hf_config, attn_implementation="sdpa")
    ours = BertForPreTraining(config)
    load_hf_state_dict(ours, reference.state_dict())
    return TransformersAdapter(reference).to(device).train(), ours.to(device).train()


def check_same_loss(reference, ours, batch, atol):
    """Before timing: the two models compute the same loss (dropout off, full precision), each
    as the timed step calls it."""
    reference.eval(), ours.eval()
    with torch.no_grad():
        a, b = reference(**batch).loss.item(), ours(**batch, sparse_mlm=True).loss.item()
    reference.train(), ours.train()
    if abs(a - b) > atol:
        raise RuntimeError(f"the models disagree before training: loss {a:.6f} vs {b:.6f}")
    return a, b


@dataclass
class Contender:
    """A model with the optimizer, schedule and loss scaler pretrain would give it."""
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler

    @classmethod
    def set_up(cls, model, total_steps, amp_dtype):
        optimizer, scheduler = make_optimizer(model, LR, total_steps, WARMUP, WEIGHT_DECAY)
        return cls(model, optimizer, scheduler, torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16))


def run(args):
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    defaults = CUDA_DEFAULTS if device.type == "cuda" else CPU_DEFAULTS
    batch_size = args.batch_size or defaults["batch_size"]
    steps = args.steps or defaults["steps"]
    warmup = defaults["warmup"] if args.warmup is None else args.warmup
    dtype = args.dtype or ("bf16" if device.type == "cuda" else "fp32")
    if dtype == "fp16" and device.type != "cuda":
        raise ValueError("--dtype fp16 needs a CUDA device; on the CPU use fp32 or bf16.")
    amp_dtype = AMP_DTYPES[dtype]

    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for what runs in fp32, as pretrain sets it
    overrides = {} if args.vocab_size is None else dict(vocab_size=args.vocab_size)
    config = BertConfig.from_preset(args.preset, **overrides)
    if args.seq_len > config.max_position_embeddings:
        raise ValueError(f"--seq-len {args.seq_len} exceeds max_position_embeddings={config.max_position_embeddings}.")
    reference, ours = build_models(config, device)
    batches = make_batches(config, 4, batch_size, args.seq_len, args.mlm_probability, device, args.seed)
    check_same_loss(reference, ours, batches[0], atol=1e-4)

    contenders = {"transformers": Contender.set_up(reference, warmup + steps, amp_dtype),
                  "bertlite": Contender.set_up(ours, warmup + steps, amp_dtype)}

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def timed_step(c, batch):
        sync()
        t0 = time.perf_counter()
        training_step(c.model, batch, c.optimizer, c.scheduler, c.scaler, amp_dtype, sparse_mlm=True)
        sync()
        return time.perf_counter() - t0

    times = {name: [] for name in contenders}
    order = list(contenders)
    for i in range(warmup + steps):
        for name in order if i % 2 == 0 else order[::-1]:  # alternate who goes first
            dt = timed_step(contenders[name], batches[i % len(batches)])
            if i >= warmup:
                times[name].append(dt)
        if args.verbose:
            print(f"step {i + 1}/{warmup + steps}" + (" (warm-up)" if i < warmup else ""), flush=True)

    tokens = batch_size * args.seq_len
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    fused = contenders["bertlite"].optimizer.defaults.get("fused")
    print(f"device: {gpu or f'CPU, {torch.get_num_threads()} threads'}; torch {torch.__version__}; dtype {dtype}")
    print(f"config: preset {args.preset} (L{config.num_hidden_layers}/H{config.hidden_size}, "
          f"V={config.vocab_size}), seq_len {args.seq_len}, batch {batch_size}, MLM rate {args.mlm_probability}; "
          f"{steps} timed steps each after {warmup} warm-up")
    print(f"step: bertlite.pretraining.training_step for both, make_optimizer's AdamW "
          f"({'fused' if fused else 'not fused'}), clipping, schedule, GradScaler "
          f"({'on' if amp_dtype == torch.float16 else 'off'}); bertlite with sparse_mlm=True")
    fpt = flops_per_token(config, args.seq_len, args.mlm_probability)  # as pretrain counts it
    peak = chip_peak(gpu, dtype, args.peak_tflops)
    rates = {}
    for who, ts in times.items():
        median = statistics.median(ts)
        rates[who] = tokens / median
        line = f"{who:>12}: {median * 1000:8.1f} ms/step (median)   {rates[who]:10,.0f} tokens/s"
        if peak:
            line += f"   MFU {mfu(rates[who], fpt, peak):6.1%}"
        print(line)
    if gpu and not peak:
        print(f"(no MFU: {gpu!r} has no {dtype} peak in bertlite.flops.PEAK_BF16_FLOPS; pass --peak-tflops)")
    if peak:
        print(f"model FLOPs per token: {fpt / 1e6:.1f} M; peak {peak / 1e12:g} TFLOP/s ({dtype})")
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
