"""Checks for bertlite/heads.py: the masked-LM loss that BertForPreTraining computes, over every
position (lesson 05) and only at the labelled ones through the MLM head (lesson 10's sparse_mlm).

The reference is PyTorch's cross-entropy over all positions with ignore_index=IGNORE_INDEX."""

import torch
import torch.nn.functional as F

from ..config import BertConfig
from ..heads import BertLMPredictionHead
from ..heads import masked_positions as reference_masked_positions
from ..masking import IGNORE_INDEX
from .harness import CheckFailed, Exercise, call, compare, run_cases
from .hints import first_hint

__all__ = ["check_mlm_loss", "check_mlm_head", "check_pretraining_loss", "MISTAKES"]


def _per_position(logits, labels):
    """-log p(label) at every position, 0 where the label is -100."""
    keep = labels != IGNORE_INDEX
    log_p = logits.log_softmax(-1).gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    return -(log_p * keep), keep


def _head_with(make_decoder):
    """The lesson's BertLMPredictionHead, with its decoder made by make_decoder(H, V, embeddings)."""
    class Head(BertLMPredictionHead):
        def __init__(self, config, word_embeddings):
            torch.nn.Module.__init__(self)
            H, V = config.hidden_size, config.vocab_size
            self.transform = torch.nn.Linear(H, H)
            self.LayerNorm = torch.nn.LayerNorm(H, eps=config.layer_norm_eps)
            self.decoder = make_decoder(H, V, word_embeddings)
    return Head


def _copied(H, V, embeddings):
    decoder = torch.nn.Linear(H, V)
    decoder.weight = torch.nn.Parameter(embeddings.weight.detach().clone())  # equal today, apart after a step
    return decoder


def _tied_without_bias(H, V, embeddings):
    decoder = torch.nn.Linear(H, V, bias=False)
    decoder.weight = embeddings.weight
    return decoder


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "pretraining_loss": Exercise(lesson="07", check="check_pretraining_loss", hints=(
        "One number for both tasks: the masked-LM loss plus the next-sentence loss.",
        "The MLM part is a cross-entropy over the vocabulary, averaged over the positions whose label is not "
        "-100 only; the NSP part is a two-way cross-entropy averaged over the pairs. Add them.",
        "F.cross_entropy(mlm_logits.reshape(-1, V), mlm_labels.reshape(-1), ignore_index=-100) + "
        "F.cross_entropy(nsp_logits, nsp_labels)",
    )),
    "BertLMPredictionHead": Exercise(lesson="05", check="check_mlm_head", hints=(
        "The decoder turns a vector back into a score per vocabulary entry; BERT uses the input embedding "
        "matrix for it, the same tensor, read the other way.",
        "Make the decoder an nn.Linear(H, V): it brings its own bias of V. Then replace its weight by the "
        "word-embedding weight itself (an assignment of the Parameter, not a copy of its values).",
        "self.decoder = nn.Linear(H, V); self.decoder.weight = word_embeddings.weight",
    )),
    "mlm_loss": Exercise(lesson="05", check="check_mlm_loss", hints=(
        "Cross-entropy averaged over the chosen positions only: the -100 labels are left out entirely.",
        "Keep the positions whose label is not -100. For those rows of logits, compute log-softmax over the "
        "vocabulary, pick the log-probability of each label, and return minus their mean.",
        "keep = labels != -100; z = logits[keep]; log_p = z - torch.logsumexp(z, -1, keepdim=True); "
        "return -log_p.gather(-1, labels[keep][:, None]).mean()",
    )),
    "masked_positions": Exercise(lesson="10", check="check_masked_positions", hints=(
        "Only the positions with a label are worth decoding: select them before the decoder.",
        "The chosen positions are where mlm_labels is not IGNORE_INDEX, a (B, T) boolean mask. Indexing the "
        "(B, T, H) states and the (B, T) labels with it gives (N, H) and (N,).",
        "chosen = mlm_labels != IGNORE_INDEX; return sequence_output[chosen], mlm_labels[chosen]",
    )),
}


# The common mistakes of each exercise, as code (see checks/attention.py).
MISTAKES = {
    "pretraining_loss": {
        "the mean of the two losses instead of their sum": (
            lambda z, y, n, m: (_reference_mlm_loss(z, y) + F.cross_entropy(n, m)) / 2),
        "the MLM loss alone": lambda z, y, n, m: _reference_mlm_loss(z, y),
        "the MLM loss summed over the masked positions instead of averaged": (
            lambda z, y, n, m: _per_position(z, y)[0].sum() + F.cross_entropy(n, m)),
        "the MLM loss averaged over every position, the -100 ones as 0": (
            lambda z, y, n, m: _per_position(z, y)[0].mean() + F.cross_entropy(n, m)),
    },
    "BertLMPredictionHead": {  # classes: the mistake is in __init__
        "a decoder of its own, not tied to the word embeddings": _head_with(lambda H, V, e: torch.nn.Linear(H, V)),
        "a copy of the embedding matrix instead of the matrix itself": _head_with(_copied),
        "the tied decoder without its own bias": _head_with(_tied_without_bias),
    },
    "mlm_loss": {
        "the mean over every position, the -100 ones counted as a loss of 0": lambda z, y: _per_position(z, y)[0].mean(),
        "the sum over the chosen positions instead of their mean": lambda z, y: _per_position(z, y)[0].sum(),
        "the log-softmax over the positions (dim=1) instead of the vocabulary": (
            lambda z, y: F.nll_loss(z.log_softmax(1).reshape(-1, z.shape[-1]), y.reshape(-1), ignore_index=IGNORE_INDEX)),
        "log(softmax(z)) in two steps, which overflows for large logits": (
            lambda z, y: -torch.log(z[y != IGNORE_INDEX].exp() / z[y != IGNORE_INDEX].exp().sum(-1, keepdim=True))
            .gather(-1, y[y != IGNORE_INDEX][:, None]).mean()),
    },
    "masked_positions": {
        "every position kept, the -100 ones included": lambda h, y: (h.reshape(-1, h.shape[-1]), y.reshape(-1)),
        "the states gathered but the labels left whole": lambda h, y: (h[y != IGNORE_INDEX], y),
        "the positions taken column by column (transposed order)": (
            lambda h, y: (h.transpose(0, 1)[(y != IGNORE_INDEX).T], y.T[(y != IGNORE_INDEX).T])),
    },
}


def _reference_mlm_loss(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX)


def check_mlm_head(BertLMPredictionHead):
    """Lesson 05: the decoder's weight is the word-embedding matrix itself (one tensor, read both
    ways), it keeps a bias of its own, and the head computes what the reference computes."""
    from ..heads import BertLMPredictionHead as Reference

    config = BertConfig(vocab_size=40, hidden_size=16, num_attention_heads=2)
    torch.manual_seed(0)
    embeddings = torch.nn.Embedding(config.vocab_size, config.hidden_size)
    head = call("BertLMPredictionHead", BertLMPredictionHead, config, embeddings)
    hint = "\n  hint: " + first_hint("BertLMPredictionHead")
    decoder = getattr(head, "decoder", None)
    if not isinstance(decoder, torch.nn.Linear):
        raise CheckFailed("✗ BertLMPredictionHead: self.decoder should be an nn.Linear(H, V)." + hint)
    if decoder.weight is not embeddings.weight:
        same = decoder.weight.shape == embeddings.weight.shape and torch.equal(decoder.weight, embeddings.weight)
        raise CheckFailed("✗ BertLMPredictionHead: the decoder's weight is not the word-embedding matrix"
                          + (" itself but a copy of it: equal now, apart after the first optimizer step, and "
                             "counted twice." if same else ": it is a matrix of its own (an untied decoder).")
                          + hint)
    if decoder.bias is None or decoder.bias.shape != (config.vocab_size,):
        raise CheckFailed("✗ BertLMPredictionHead: the decoder needs a bias of its own, one per vocabulary "
                          "entry (BERT ties the weight only)." + hint)
    reference = Reference(config, embeddings)
    reference.load_state_dict(head.state_dict())
    h = torch.randn(2, 5, config.hidden_size, generator=torch.Generator().manual_seed(1))
    problem = compare(call("BertLMPredictionHead", head, h), reference(h), "the logits")
    if problem:
        raise CheckFailed(f"✗ BertLMPredictionHead: {problem}." + hint)
    n = sum(p.numel() for p in torch.nn.ModuleList([embeddings, head]).parameters())
    print(f"✓ BertLMPredictionHead: the decoder is the embedding matrix ({config.vocab_size}×{config.hidden_size}, "
          f"counted once: {n:,} parameters with the embeddings), with a bias of its own.")


def check_pretraining_loss(pretraining_loss):
    """Lesson 07: BERT's pre-training loss, the MLM loss (mean over the labelled positions) plus
    the NSP loss (mean over the pairs)."""
    g = torch.Generator().manual_seed(0)
    cases = []
    for B, T, V in [(1, 6, 9), (2, 8, 20), (4, 16, 50)]:
        labels = torch.randint(V, (B, T), generator=g)
        labels[torch.rand(B, T, generator=g) < 0.8] = IGNORE_INDEX
        labels[:, 1] = 3  # every sequence predicts at least one token
        cases.append((f"B={B}, T={T}, V={V}", (torch.randn(B, T, V, generator=g) * 2, labels,
                                               torch.randn(B, 2, generator=g), torch.randint(2, (B,), generator=g))))
    reference = lambda z, y, n, m: _reference_mlm_loss(z, y) + F.cross_entropy(n, m)  # noqa: E731
    run_cases("pretraining_loss", pretraining_loss, reference, cases, hint=first_hint("pretraining_loss"),
              mistakes=MISTAKES["pretraining_loss"])


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
              hint=first_hint("mlm_loss"), mistakes=MISTAKES["mlm_loss"])


def _dense_mlm_loss(mlm_head, sequence_output, mlm_labels):
    return _reference_mlm_loss(mlm_head(sequence_output), mlm_labels)  # the head at every position


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
              hint=first_hint("masked_positions"), mistakes=MISTAKES["masked_positions"])
