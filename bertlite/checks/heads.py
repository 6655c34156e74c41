"""Checks for bertlite/heads.py: the masked-LM loss that BertForPreTraining computes, over every
position (lesson 05) and only at the labelled ones through the MLM head (lesson 10's sparse_mlm).

The reference is PyTorch's cross-entropy over all positions with ignore_index=IGNORE_INDEX."""

import torch
import torch.nn.functional as F

from ..config import BertConfig
from ..heads import BertLMPredictionHead
from ..heads import masked_positions as reference_masked_positions
from ..masking import IGNORE_INDEX
from .harness import CheckFailed, call, compare, run_cases
from .hints import first_hint

__all__ = ["check_mlm_loss", "check_sparse_mlm_loss"]


def _reference_mlm_loss(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX)


def check_mlm_loss(mlm_loss):
    g = torch.Generator().manual_seed(0)
    cases = []
    for B, T, V in [(1, 4, 7), (2, 5, 11), (3, 16, 50)]:
        logits = torch.randn(B, T, V, generator=g) * 3
        labels = torch.randint(V, (B, T), generator=g)
        labels[torch.rand(B, T, generator=g) < 0.6] = IGNORE_INDEX
        labels[0, 0] = 1  # at least one chosen position
        cases.append((f"B={B}, T={T}, V={V}", (logits, labels)))
    big = torch.zeros(1, 3, 5)
    big[0, :, 0] = 1000.0  # a naive exp() overflows here
    cases.append(("huge logits", (big, torch.tensor([[0, 1, IGNORE_INDEX]]))))
    run_cases("mlm_loss", mlm_loss, _reference_mlm_loss, cases,
              hint=first_hint("mlm_loss"))


def _dense_mlm_loss(mlm_head, sequence_output, mlm_labels):
    return _reference_mlm_loss(mlm_head(sequence_output), mlm_labels)  # the head at every position


def check_sparse_mlm_loss(sparse_mlm_loss):
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
        cases.append((description, (head, h, torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX)))))
    h = torch.randn(2, 8, config.hidden_size, generator=g)
    one = torch.full((2, 8), IGNORE_INDEX)
    one[1, 5] = 7
    cases.append(("a single labelled position", (head, h, one)))
    for description, args in cases:
        got = call("sparse_mlm_loss", sparse_mlm_loss, *args)
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


def check_masked_positions(masked_positions):
    """The learner's gather against bertlite.heads.masked_positions, and the loss it gives."""
    g = torch.Generator().manual_seed(0)
    cases = []
    for description, B, T, p in (("15% of 2 x 16 positions", 2, 16, 0.15), ("every position", 3, 5, 1.0),
                                 ("40% of 4 x 32", 4, 32, 0.4), ("no position", 2, 6, 0.0)):
        h = torch.randn(B, T, 8, generator=g)
        ids = torch.randint(50, (B, T), generator=g)
        chosen = torch.rand(B, T, generator=g) < p
        cases.append((description, (h, torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX)))))
    run_cases("masked_positions", masked_positions, reference_masked_positions, cases,
              hint=first_hint("masked_positions"))
