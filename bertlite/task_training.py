"""Lesson 09: the fine-tuning loop. Minibatches, BERT's recipe (lesson 07's optimizer), predict."""

import torch
import torch.nn.functional as F

from .optim import make_optimizer


MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask", "labels", "start_positions", "end_positions")


def trim(batch):
    """Cut the padding columns that no row of this batch needs: a batch of short texts then
    costs what short texts cost, whatever the longest text in the whole set."""
    T = int(batch["attention_mask"].sum(1).max()) if "attention_mask" in batch else batch["input_ids"].shape[1]
    return {k: v[:, :T] if k != "start_positions" and k != "end_positions" and v.dim() >= 2 else v
            for k, v in batch.items()}


def minibatches(data, batch_size, seed=0):
    """Endless shuffled minibatches of a dict of (N, ...) tensors, one seeded epoch after another."""
    n = len(data["input_ids"])
    g = torch.Generator().manual_seed(seed)
    while True:
        for idx in torch.randperm(n, generator=g).split(batch_size):
            yield trim({k: v[idx] for k, v in data.items() if k in MODEL_INPUTS})


def fine_tune(model, data, steps, lr=1e-4, batch_size=32, warmup=0.1, weight_decay=0.01,
              freeze_encoder=False, seed=0, device=None, eval_every=0, evaluate=None, progress=True):
    """BERT's fine-tuning recipe: lesson 07's AdamW (its parameter groups, eps 1e-6), linear
    warm-up then linear decay to 0, every weight trained. freeze_encoder=True trains the head alone (the feature-based approach).
    evaluate: an optional function model -> number, called every eval_every steps.
    Returns the history: a list of dicts with step, loss and (when evaluated) score."""
    from tqdm.auto import tqdm

    device = device or next(model.parameters()).device
    model.to(device).train()
    model.bert.requires_grad_(not freeze_encoder)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer, schedule = make_optimizer(model, lr, steps, warmup, weight_decay)  # lesson 07's set-up
    history, batches = [], minibatches(data, batch_size, seed)
    for step in tqdm(range(1, steps + 1), desc="fine-tuning", disable=not progress, leave=False):
        batch = {k: v.to(device) for k, v in next(batches).items()}
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        record = {"step": step, "loss": loss.item()}
        if evaluate is not None and eval_every and (step % eval_every == 0 or step == steps):
            model.eval()
            record["score"] = evaluate(model)
            model.train()
        history.append(record)
    model.bert.requires_grad_(True)
    return history


@torch.no_grad()
def predict(model, data, batch_size=128):
    """Run the model over a dict of tensors in eval mode; returns its logits on the CPU
    ((start_logits, end_logits) for question answering)."""
    model.eval()
    device = next(model.parameters()).device
    n, T, outputs = len(data["input_ids"]), data["input_ids"].shape[1], []
    pad = lambda x: F.pad(x, (0, T - x.shape[1]), value=float("-inf"))  # noqa: E731 (back to (b, T))
    for i in range(0, n, batch_size):
        batch = trim({k: data[k][i:i + batch_size] for k in ("input_ids", "token_type_ids", "attention_mask") if k in data})
        out = model(**{k: v.to(device) for k, v in batch.items()})
        if hasattr(out, "start_logits"):
            outputs.append((pad(out.start_logits.float().cpu()), pad(out.end_logits.float().cpu())))
        else:
            logits = out.logits.float().cpu()
            outputs.append(logits if logits.dim() == 2 else F.pad(logits, (0, 0, 0, T - logits.shape[1])))
    if isinstance(outputs[0], tuple):
        return torch.cat([s for s, _ in outputs]), torch.cat([e for _, e in outputs])
    return torch.cat(outputs)
