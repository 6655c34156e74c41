"""Checks for bertlite/optim.py (lesson 07: the optimizer's parameter groups and learning-rate schedule)."""

import torch
from torch import nn

from .. import optim as ref
from ..config import BertConfig
from ..heads import BertForPreTraining
from .harness import CheckFailed, Exercise, call, run_cases
from .hints import first_hint

__all__ = ["check_param_groups", "check_warmup_linear", "MISTAKES"]


def _groups(model, weight_decay, rule):
    """The reference's two groups, but for the one rule a learner gets wrong."""
    norms = {id(p) for m in model.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters(recurse=False)}
    decay, no_decay = [], []
    for name, p in model.named_parameters(remove_duplicate=rule != "tied twice"):
        if not p.requires_grad and rule != "frozen kept":
            continue
        bias, norm = name.endswith("bias"), id(p) in norms
        left_out = bias if rule == "biases only" else norm if rule == "norms only" else bias or norm
        (no_decay if left_out else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "param_groups": Exercise(lesson="07", check="check_param_groups", hints=(
        "Weight decay shrinks weights towards 0; biases and LayerNorm parameters are left out of it.",
        "Collect the parameters that belong to LayerNorm modules. Then go over the named parameters (skip "
        "frozen ones): a bias or a LayerNorm parameter goes to the no-decay group, every other to decay.",
        "no_decay_ids = {id(p) for m in model.modules() if isinstance(m, nn.LayerNorm) for p in "
        "m.parameters(recurse=False)}; then split model.named_parameters() on name.endswith('bias') or id(p)",
    )),
    "warmup_linear": Exercise(lesson="07", check="check_warmup_linear", hints=(
        "The learning rate multiplier climbs linearly from 0 to 1 during the warm-up, then falls linearly "
        "to 0 at the last step, and never below 0.",
        "Before warmup_steps: step / warmup_steps. After: the fraction of the decay steps still left, "
        "(total - step) / (total - warmup), clipped at 0. Guard both denominators against 0.",
        "if step < warmup: return step / max(1, warmup); return max(0.0, (total - step) / max(1, total - warmup))",
    )),
}


# The common mistakes of each exercise, as code (see checks/attention.py).
MISTAKES = {
    "param_groups": {
        "LayerNorm weights decayed (only biases left out)": lambda m, wd=0.01: _groups(m, wd, "biases only"),
        "biases decayed (only LayerNorms left out)": lambda m, wd=0.01: _groups(m, wd, "norms only"),
        "the tied decoder weight listed twice": lambda m, wd=0.01: _groups(m, wd, "tied twice"),
        "frozen parameters (requires_grad=False) kept in a group": lambda m, wd=0.01: _groups(m, wd, "frozen kept"),
    },
    "warmup_linear": {
        "the decay not clipped at 0 after the last step": (
            lambda s, w, t: s / max(1, w) if s < w else (t - s) / max(1, t - w)),
        "decay measured from step 0 instead of from the end of the warm-up": (
            lambda s, w, t: s / max(1, w) if s < w else max(0.0, (t - s) / max(1, t))),
        "no warm-up: the multiplier starts at 1": lambda s, w, t: max(0.0, (t - s) / max(1, t - w)) if s >= w else 1.0,
        "a division by warmup_steps with no guard (fails for warmup_steps = 0)": (
            lambda s, w, t: s / w if s < w else max(0.0, (t - s) / (t - w))),
    },
}


def _describe_groups(groups, model):
    """{parameter name: its group's weight_decay}, and the names listed twice or not owned."""
    names = {id(p): n for n, p in model.named_parameters()}
    where, problems = {}, []
    for g in groups:
        for p in g["params"]:
            name = names.get(id(p))
            if name is None:
                problems.append("a tensor that is not one of the model's parameters")
            elif name in where:
                problems.append(f"{name} appears twice")
            where[name] = g.get("weight_decay")
    return where, problems


def check_param_groups(param_groups):
    torch.manual_seed(0)
    tiny = BertForPreTraining(BertConfig.from_preset("tiny", vocab_size=100))
    pre_ln = BertForPreTraining(BertConfig.from_preset("tiny", vocab_size=100, pre_layer_norm=True))
    mlp = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 2, bias=False))
    frozen = nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4))
    frozen[0].weight.requires_grad_(False)
    cases = [("tiny BertForPreTraining, decay 0.01", tiny, 0.01),
             ("pre-LN BertForPreTraining (one more LayerNorm), decay 0.1", pre_ln, 0.1),
             ("Linear, LayerNorm, GELU, Linear without bias", mlp, 0.01),
             ("a frozen embedding is left out", frozen, 0.05)]
    hint = first_hint("param_groups")
    for description, model, wd in cases:
        learner_groups = _describe_groups(call("param_groups", param_groups, model, wd), model)
        got, problems = learner_groups[0], list(learner_groups[1])
        expected, _ = _describe_groups(ref.param_groups(model, wd), model)
        for name in expected:
            if name not in got:
                problems.append(f"{name} is in no group")
            elif got[name] != expected[name]:
                problems.append(f"{name} has weight_decay {got[name]}, expected {expected[name]}")
        problems += [f"{name} should be left out (requires_grad=False)" for name in got if name not in expected]
        if problems:
            named = next((label for label, wrong in MISTAKES["param_groups"].items()
                          if _describe_groups(wrong(model, wd), model) == learner_groups), None)
            raise CheckFailed(f"✗ param_groups, case «{description}»: {'; '.join(problems[:3])}"
                              f"{f' (and {len(problems) - 3} more)' if len(problems) > 3 else ''}."
                              + (f"\n  Your groups equal {named}: that is the mistake." if named else "")
                              + f"\n  hint: {hint}")
    print(f"✓ param_groups: all {len(cases)} cases match the reference.")


def check_warmup_linear(warmup_linear):
    cases = [(f"step {s}, warmup {w}, total {t}", (s, w, t))
             for w, t in ((10, 100), (0, 50), (1, 1), (30, 300), (5, 6))
             for s in sorted({0, 1, w // 2, max(w - 1, 0), w, w + 1, (w + t) // 2, t - 1, t, t + 5})]
    run_cases(
        "warmup_linear", lambda *a: float(warmup_linear(*a)), lambda *a: float(ref.warmup_linear(*a)),
        cases, atol=1e-9,
        hint=first_hint("warmup_linear"),
        mistakes={label: (lambda *a, f=f: float(f(*a))) for label, f in MISTAKES["warmup_linear"].items()},
    )
