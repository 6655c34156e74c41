"""Checks for bertlite/pretraining.py (lesson 07: one training step).

The reference is bertlite's training_step, run on an identical copy of the same model, with the
same batches and a fresh optimizer and schedule of its own."""

import copy

import torch

from .. import pretraining as ref
from ..config import BertConfig
from ..heads import BertForPreTraining
from ..masking import IGNORE_INDEX
from ..optim import make_optimizer
from .harness import CheckFailed, Exercise, call, compare, where_in_learner_code
from .hints import first_hint

__all__ = ["check_training_step", "MISTAKES"]


def _step(zero_grad=True, clip=True, schedule=True, zero_first=False):
    def training_step(model, batch, optimizer, scheduler, scaler, amp_dtype=None, sparse_mlm=True):
        o = model(**batch, sparse_mlm=sparse_mlm)
        scaler.scale(o.loss).backward()
        if zero_first:
            optimizer.zero_grad(set_to_none=True)
        scaler.unscale_(optimizer)
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        scaler.step(optimizer)
        scaler.update()
        if schedule:
            scheduler.step()
        if zero_grad and not zero_first:
            optimizer.zero_grad(set_to_none=True)
        return o
    return training_step


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "training_step": Exercise(lesson="07", check="check_training_step", hints=(
        "Forward (given), then: backward, clip the gradient, step the optimizer, step the schedule, "
        "and clear the gradients for the next step.",
        "The loss goes backward through the scaler (scaler.scale(loss).backward()); unscale the gradients "
        "(scaler.unscale_(optimizer)) before clipping their total norm to 1.0; scaler.step(optimizer) and "
        "scaler.update() apply them; scheduler.step() moves the learning rate; optimizer.zero_grad() last.",
        "scaler.scale(o.loss).backward(); scaler.unscale_(optimizer); clip_grad_norm_(model.parameters(), 1.0); "
        "scaler.step(optimizer); scaler.update(); scheduler.step(); optimizer.zero_grad(set_to_none=True)",
    )),
}


# The common mistakes of the exercise, as code (see checks/attention.py).
MISTAKES = {
    "training_step": {
        "no zero_grad: each step's gradients pile onto the last ones": _step(zero_grad=False),
        "no gradient clipping": _step(clip=False),
        "the schedule never stepped: the learning rate stays where it started": _step(schedule=False),
        "the gradients zeroed before the optimizer step: only weight decay moves the weights": _step(zero_first=True),
    },
}


def _batches(config, n=3, B=4, T=12):
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(n):
        ids = torch.randint(5, config.vocab_size, (B, T), generator=g)
        labels = torch.where(torch.rand(B, T, generator=g) < 0.3, ids, torch.full_like(ids, IGNORE_INDEX))
        labels[:, 1] = ids[:, 1]
        batches.append({"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": torch.ones_like(ids),
                        "mlm_labels": labels, "nsp_labels": torch.randint(2, (B,), generator=g)})
    return batches


def _run(step_fn, model, batches):
    """The weights after each step, and the learning rate after each step."""
    optimizer, scheduler = make_optimizer(model, lr=1e-3, steps=10, warmup=0.2)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    weights, rates = [], []
    for batch in batches:
        call("training_step", step_fn, model, batch, optimizer, scheduler, scaler)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
        rates.append(optimizer.param_groups[0]["lr"])
    return weights, rates


def check_training_step(training_step):
    config = BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, initializer_range=0.5)  # large weights: clipping matters
    torch.manual_seed(0)
    model = BertForPreTraining(config)
    batches = _batches(config)
    expected, expected_rates = _run(ref.training_step, copy.deepcopy(model), batches)
    try:
        got, rates = _run(training_step, copy.deepcopy(model), batches)
    except CheckFailed:
        raise
    except Exception as e:
        raise CheckFailed(f"✗ training_step: your code raised {type(e).__name__}: {e}" + where_in_learner_code(e)
                          + "\n  hint: " + first_hint("training_step")) from e
    for k, (w, e, lr, e_lr) in enumerate(zip(got, expected, rates, expected_rates), 1):
        problem = compare(w, e, f"the weights after step {k}", atol=1e-6)
        if problem or abs(lr - e_lr) > 1e-12:
            named = [label for label, wrong in MISTAKES["training_step"].items()
                     if _matches(wrong, model, batches, got, rates)]
            raise CheckFailed(f"✗ training_step, step {k} of {len(batches)}: "
                              + (problem or f"the learning rate is {lr:.3g}, expected {e_lr:.3g}") + "."
                              + (f"\n  Your steps equal {' or '.join(named)}: that is the mistake." if named else "")
                              + "\n  hint: " + first_hint("training_step"))
    print(f"✓ training_step: the weights and the learning rate match the reference after each of {len(batches)} steps.")


def _matches(wrong, model, batches, got, rates):
    weights, wrong_rates = _run(wrong, copy.deepcopy(model), batches)
    return wrong_rates == rates and all(compare(g, w, "", atol=1e-6) is None for g, w in zip(got, weights))
