"""Checks for lesson 10 (pre-training on a GPU: speed and reliability).

Each check compares the learner's function with an independent reference: FLOPs with the ones
torch counts while it runs a real training step, the sparse MLM loss with the dense one, an
atomic write with what a crash in the middle of torch.save leaves behind.
"""

import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from . import CheckFailed, NotDoneYet, compare

__all__ = ["check_flops_per_token", "check_sparse_mlm_loss", "check_atomic_save", "counted_flops_per_token"]


def _not_done(name, e):
    return NotDoneYet(f"{name} is not written yet ({e}). Fill in the exercise, run its cell, then this check.")


def counted_flops_per_token(config, seq_len, mlm_fraction, batch_size=4, seed=0):
    """FLOPs per token of one forward + backward of BertForPreTraining, as torch's
    FlopCounterMode counts them while it runs (matmuls only; eager attention, so its two
    matmuls are counted too). mlm_fraction of the positions carry an MLM label."""
    from torch.utils.flop_counter import FlopCounterMode

    from ..config import BertConfig
    from ..heads import BertForPreTraining
    from ..masking import IGNORE_INDEX

    cfg = BertConfig(**{**config.to_dict(), "attn_implementation": "eager",
                        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0})
    g = torch.Generator().manual_seed(seed)
    model = BertForPreTraining(cfg)
    B, T = batch_size, seq_len
    ids = torch.randint(cfg.vocab_size, (B, T), generator=g)
    labels = torch.full_like(ids, IGNORE_INDEX)
    chosen = torch.randperm(B * T, generator=g)[:round(mlm_fraction * B * T)]
    labels.view(-1)[chosen] = ids.view(-1)[chosen]
    with FlopCounterMode(display=False) as counter:
        out = model(ids, mlm_labels=labels, nsp_labels=torch.zeros(B, dtype=torch.long),
                    sparse_mlm=mlm_fraction < 1)
        out.loss.backward()
    return counter.get_total_flops() / (B * T)


def check_flops_per_token(flops_per_token):
    from ..config import BertConfig

    cases = [
        ("tiny, V=1000, T=64, every position predicted", BertConfig.from_preset("tiny", vocab_size=1000), 64, 1.0),
        ("tiny, V=1000, T=64, 15% predicted (sparse head)", BertConfig.from_preset("tiny", vocab_size=1000), 64, 0.15),
        ("L3/H64, intermediate 100, V=300, T=32, 40% predicted",
         BertConfig(vocab_size=300, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                    intermediate_size=100, max_position_embeddings=64), 32, 0.4),
    ]
    for description, config, T, fraction in cases:
        try:
            got = flops_per_token(config, T, fraction)
        except NotImplementedError as e:
            raise _not_done("flops_per_token", e) from None
        counted = counted_flops_per_token(config, T, fraction)
        # The formula leaves out the pooler and NSP head (once per sequence): well under 1%.
        if not isinstance(got, (int, float)) or abs(got - counted) > 0.01 * counted:
            raise CheckFailed(
                f"✗ flops_per_token, case «{description}»: you give {got!r}, torch counted "
                f"{counted:,.0f} FLOPs per token (forward + backward).\n  hint: 6 per weight of "
                f"every matmul a token passes through (Q, K, V, output, W1, W2 in each layer), "
                f"12·L·T·H for attention's two T x T matmuls, and the MLM head (H·H + V·H weights) "
                f"only at mlm_fraction of the positions.")
    print(f"✓ flops_per_token: all {len(cases)} cases within 1% of the FLOPs torch counts.")


def _dense_mlm_loss(mlm_head, sequence_output, mlm_labels):
    logits = mlm_head(sequence_output)  # (B, T, V): every position
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), mlm_labels.reshape(-1), ignore_index=-100)


def check_sparse_mlm_loss(sparse_mlm_loss):
    from ..config import BertConfig
    from ..heads import BertLMPredictionHead

    g = torch.Generator().manual_seed(0)
    config = BertConfig.from_preset("tiny", vocab_size=50)
    head = BertLMPredictionHead(config, torch.nn.Embedding(50, config.hidden_size)).eval()
    cases = []
    for description, B, T, p in (("15% of 2 x 16 positions", 2, 16, 0.15),
                                 ("every position", 3, 5, 1.0), ("40% of 4 x 32", 4, 32, 0.4)):
        h = torch.randn(B, T, config.hidden_size, generator=g)
        ids = torch.randint(50, (B, T), generator=g)
        chosen = torch.rand(B, T, generator=g) < p
        chosen[0, 1] = True  # at least one
        cases.append((description, (head, h, torch.where(chosen, ids, torch.full_like(ids, -100)))))
    h = torch.randn(2, 8, config.hidden_size, generator=g)
    one = torch.full((2, 8), -100)
    one[1, 5] = 7
    cases.append(("a single labelled position", (head, h, one)))
    for description, args in cases:
        try:
            got = sparse_mlm_loss(*args)
        except NotImplementedError as e:
            raise _not_done("sparse_mlm_loss", e) from None
        with torch.no_grad():
            expected = _dense_mlm_loss(*args)
        problem = compare(got.detach() if isinstance(got, torch.Tensor) else got, expected, "the loss", atol=1e-4)
        if problem:
            raise CheckFailed(
                f"✗ sparse_mlm_loss, case «{description}»: {problem} (the dense loss, over all "
                f"positions with ignore_index=-100).\n  hint: chosen = mlm_labels != -100; gather "
                f"sequence_output[chosen] (N, H) and mlm_labels[chosen] (N,), then the head and "
                f"the mean cross-entropy over those N rows.")
    print(f"✓ sparse_mlm_loss: all {len(cases)} cases equal the dense loss.")


class _FailsHalfway:
    """Pickling this raises, after torch.save has already written the tensors before it."""

    def __reduce__(self):
        raise RuntimeError("simulated crash in the middle of torch.save")


def check_atomic_save(atomic_save):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run" / "checkpoint.pt"  # the folder does not exist yet
        good = {"step": 100, "weights": torch.arange(1000.0)}
        try:
            atomic_save(good, path)
        except NotImplementedError as e:
            raise _not_done("atomic_save", e) from None
        except FileNotFoundError:
            raise CheckFailed("✗ atomic_save: saving into a folder that does not exist yet failed.\n"
                              "  hint: path.parent.mkdir(parents=True, exist_ok=True) first.") from None
        loaded = torch.load(path, weights_only=True)
        if loaded["step"] != 100 or not torch.equal(loaded["weights"], good["weights"]):
            raise CheckFailed("✗ atomic_save: the file does not load back to what was saved.")
        crashed = False
        try:
            atomic_save({"step": 200, "weights": torch.zeros(1000), "bad": _FailsHalfway()}, path)
        except Exception:
            crashed = True
        if not crashed:
            raise CheckFailed("✗ atomic_save swallowed an error from torch.save; let it propagate, "
                              "so the training loop knows the checkpoint was not written.")
        try:
            after = torch.load(path, weights_only=True)
        except Exception as e:
            raise CheckFailed(
                f"✗ atomic_save: a crash in the middle of torch.save left {path.name} unreadable "
                f"({type(e).__name__}). The last good checkpoint is lost.\n  hint: torch.save to a "
                f"temporary file in the same folder, then os.replace(tmp, path): the rename is "
                f"atomic, so the path holds the old file or the new one, never half of one.") from None
        if after["step"] != 100:
            raise CheckFailed("✗ atomic_save: after the crash the file does not hold the last good checkpoint.")
    print("✓ atomic_save: the file loads back, and a crash mid-save leaves the last good checkpoint intact.")
