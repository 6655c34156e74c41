"""mask_tokens (lesson 05): the properties BERT's masking recipe promises, checked by counting."""

import math

import pytest
import torch

from bertlite.masking import mask_tokens

V, MASK, CLS, SEP, PAD = 1000, 4, 2, 3, 0


def batch(B=800, T=128, seed=0):
    """Random ids in [5, V) framed as [CLS] ... [SEP] [PAD]..., with varying lengths."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, V, (B, T), generator=g)
    lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    pos = torch.arange(T)
    ids[pos >= lengths[:, None]] = PAD
    ids[:, 0] = CLS
    ids[torch.arange(B), lengths - 1] = SEP
    special = (ids == CLS) | (ids == SEP) | (ids == PAD)
    return ids, special


def within(observed, n, p, sigmas=5):
    """observed successes out of n agree with probability p to `sigmas` standard deviations."""
    return abs(observed - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_specials_are_never_chosen_or_changed():
    ids, special = batch()
    masked, labels = mask_tokens(ids, special, V, MASK, generator=torch.Generator().manual_seed(1))
    assert (labels[special] == -100).all()
    assert torch.equal(masked[special], ids[special])


def test_rates_are_15_percent_and_80_10_10():
    ids, special = batch()  # about 77k candidate tokens
    candidates = int((~special).sum())
    assert candidates >= 70_000
    masked, labels = mask_tokens(ids, special, V, MASK, generator=torch.Generator().manual_seed(2))
    chosen = labels != -100
    n = int(chosen.sum())
    assert within(n, candidates, 0.15)
    to_mask = int((chosen & (masked == MASK)).sum())
    unchanged = int((chosen & (masked == ids)).sum())
    random = int((chosen & (masked != MASK) & (masked != ids)).sum())
    assert to_mask + unchanged + random == n
    assert within(to_mask, n, 0.8)
    # a random token equals the original (or is [MASK]) with probability 1/V each
    assert within(random, n, 0.1 * (1 - 2 / V))
    assert within(unchanged, n, 0.1 + 0.1 / V)


def test_rates_over_a_million_tokens_at_another_probability():
    ids, special = batch(B=8000, T=128, seed=3)
    masked, labels = mask_tokens(ids, special, V, MASK, mlm_probability=0.4,
                                 generator=torch.Generator().manual_seed(4))
    chosen = labels != -100
    assert within(int(chosen.sum()), int((~special).sum()), 0.4)


def test_labels_are_the_original_ids_exactly():
    ids, special = batch(B=50)
    masked, labels = mask_tokens(ids, special, V, MASK, generator=torch.Generator().manual_seed(5))
    chosen = labels != -100
    assert torch.equal(labels[chosen], ids[chosen])
    assert (labels[~chosen] == -100).all()
    assert torch.equal(masked[~chosen], ids[~chosen])  # only chosen tokens are corrupted
    assert masked.dtype == ids.dtype and labels.dtype == ids.dtype
    assert ((masked >= 0) & (masked < V)).all()


def test_seeded_generator_repeats_and_different_seeds_differ():
    ids, special = batch(B=20)
    a = mask_tokens(ids, special, V, MASK, generator=torch.Generator().manual_seed(6))
    b = mask_tokens(ids, special, V, MASK, generator=torch.Generator().manual_seed(6))
    c = mask_tokens(ids, special, V, MASK, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_input_is_not_modified_in_place():
    ids, special = batch(B=20)
    ids_before, special_before = ids.clone(), special.clone()
    masked, labels = mask_tokens(ids, special, V, MASK, mlm_probability=0.5)
    assert torch.equal(ids, ids_before) and torch.equal(special, special_before)
    assert masked.data_ptr() != ids.data_ptr()


def test_max_predictions_caps_each_row_and_stays_uniform_over_positions():
    ids, special = batch(B=4000, T=128, seed=8)
    masked, labels = mask_tokens(ids, special, V, MASK, mlm_probability=0.5, max_predictions=5,
                                 generator=torch.Generator().manual_seed(9))
    chosen = labels != -100
    assert chosen.sum(1).max() == 5
    assert (chosen.sum(1) == 5).float().mean() > 0.99  # rows have ~30 candidates
    # the kept predictions are not biased to the start: early and late candidate positions
    # (1..20 and 40..60, every row has them as candidates) are chosen at the same rate
    early, late = chosen[:, 1:21].float().mean(), chosen[:, 40:60].float().mean()
    assert abs(early - late) < 0.1 * early
    assert torch.equal(labels[chosen], ids[chosen])


def test_a_high_cap_changes_nothing():
    ids, special = batch(B=30)
    a = mask_tokens(ids, special, V, MASK, generator=torch.Generator().manual_seed(10))
    b = mask_tokens(ids, special, V, MASK, generator=torch.Generator().manual_seed(10), max_predictions=10_000)
    assert torch.equal(a[1] != -100, b[1] != -100)


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5])
def test_probability_outside_0_1_is_an_error(p):
    ids, special = batch(B=2)
    with pytest.raises(ValueError, match="mlm_probability"):
        mask_tokens(ids, special, V, MASK, mlm_probability=p)


def test_mismatched_shapes_are_an_error():
    ids, special = batch(B=2)
    with pytest.raises(ValueError, match="shape"):
        mask_tokens(ids, special[:, :-1], V, MASK)


def test_bad_cap_is_an_error():
    ids, special = batch(B=2)
    with pytest.raises(ValueError, match="max_predictions"):
        mask_tokens(ids, special, V, MASK, max_predictions=0)
