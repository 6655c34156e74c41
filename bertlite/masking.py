"""Lesson 05: choosing and corrupting the tokens that the masked language model predicts.

Of the tokens that may be chosen (never [CLS], [SEP] or [PAD]), each is chosen with
probability 15%. A chosen token becomes [MASK] 80% of the time, a random token 10% of the
time, and stays itself 10% of the time. The label is the original id at chosen positions and
-100 (ignored by the loss) everywhere else.
"""

import torch

IGNORE_INDEX = -100  # the label of every position the MLM loss skips (PyTorch's default ignore_index)


def mask_tokens(input_ids, special_tokens_mask, vocab_size, mask_token_id,
                mlm_probability=0.15, generator=None, max_predictions=None):
    """input_ids: (B, T) long. special_tokens_mask: (B, T) bool, True where a token may never
    be chosen. Returns (masked_input_ids, labels), both new tensors.
    Every sequence with a token that may be chosen gets at least one prediction.
    max_predictions (BERT's max_predictions_per_seq, off by default) caps the chosen tokens
    per sequence."""
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability={mlm_probability} must be strictly between 0 and 1 (BERT uses 0.15).")
    if special_tokens_mask.shape != input_ids.shape:
        raise ValueError(
            f"special_tokens_mask has shape {tuple(special_tokens_mask.shape)} but input_ids has "
            f"shape {tuple(input_ids.shape)}: give one True/False per token."
        )
    special = special_tokens_mask.bool().to(input_ids.device)
    rand = lambda: torch.rand(input_ids.shape, generator=generator, device=input_ids.device)  # noqa: E731

    chosen = (rand() < mlm_probability) & ~special  # (B, T)
    # At least one prediction per sequence, as BERT's max(1, round(n·p)): a short sequence that
    # drew none gets one token, picked at random, so its MLM loss is never 0/0 = NaN.
    pick = torch.where(special, -1.0, rand()).argmax(dim=-1, keepdim=True)  # (B, 1)
    chosen |= ~chosen.any(dim=-1, keepdim=True) & ~special & torch.zeros_like(chosen).scatter(1, pick, True)
    if max_predictions is not None:
        if max_predictions < 1:
            raise ValueError(f"max_predictions={max_predictions} must be at least 1 (BERT uses 20 at length 128), or None.")
        # keep max_predictions chosen positions of each row, picked at random (the first ones
        # would favour the start of the sequence): rank the chosen by a random score
        score = torch.where(chosen, rand(), torch.full_like(chosen, 2.0, dtype=torch.float))
        rank = score.argsort(dim=-1).argsort(dim=-1)  # (B, T): 0 for the smallest score
        chosen &= rank < max_predictions
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))

    # One draw splits the chosen tokens 80 / 10 / 10.
    u = rand()
    to_mask = chosen & (u < 0.8)
    to_random = chosen & (u >= 0.8) & (u < 0.9)  # the last 10% stay unchanged
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator, device=input_ids.device)
    masked = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    masked = torch.where(to_random, random_ids, masked)
    return masked, labels
