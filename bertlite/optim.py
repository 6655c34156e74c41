"""Lesson 07 (and 09, 10): the optimizer. AdamW with BERT's parameter groups, warm-up then
linear decay, one set-up for pre-training, fine-tuning and the benchmark.
"""

from functools import partial

import torch


def param_groups(model, weight_decay=0.01):
    """AdamW's two groups: weight decay pulls weights towards 0, which makes sense for
    matrices, but not for biases (shifts) or LayerNorm weights (scales, meant to sit near 1)."""
    no_decay_ids = {id(p) for m in model.modules() if isinstance(m, torch.nn.LayerNorm)
                    for p in m.parameters(recurse=False)}
    decay, no_decay = [], []
    for name, p in model.named_parameters():  # a tied weight is listed once
        if not p.requires_grad:
            continue
        (no_decay if name.endswith("bias") or id(p) in no_decay_ids else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def warmup_linear(step, warmup_steps, total_steps):
    """The learning-rate multiplier at `step`: 0 -> 1 linearly over the warmup, then
    linearly down to 0 at total_steps (BERT's schedule; Hugging Face's get_linear_schedule_with_warmup)."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def make_optimizer(model, lr, steps, warmup=0.1, weight_decay=0.01):
    """(AdamW, its schedule) as BERT set them up: the two parameter groups, betas (0.9, 0.999),
    eps 1e-6, lr warmed up over `warmup` of the `steps`, then decayed linearly to 0. Only the
    parameters that require grad are trained (a frozen encoder is left out). The update is one
    fused kernel wherever torch has one for the model's device (CUDA, and the CPU since torch
    2.4) instead of a loop of small operations per tensor."""
    groups = param_groups(model, weight_decay)
    try:
        optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-6, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused AdamW for this device or torch
        optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-6)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, partial(warmup_linear, warmup_steps=round(warmup * steps), total_steps=steps))
    return optimizer, scheduler
