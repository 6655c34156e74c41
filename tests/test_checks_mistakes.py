"""Each exercise's check rejects the common mistakes, and names them: every wrong implementation
below is a mistake learners make, and its check must fail with a message that points at it."""

import pytest
import torch

from bertlite import checks, masking
from bertlite.checks.harness import CheckFailed


def mask_tokens_with(replace_random):
    """The reference mask_tokens, with its random 10% drawn by replace_random(ids, n, generator)."""
    def mask_tokens(input_ids, special_tokens_mask, vocab_size, mask_token_id, mlm_probability=0.15,
                    generator=None, max_predictions=None):
        masked, labels = masking.mask_tokens(input_ids, special_tokens_mask, vocab_size, mask_token_id,
                                             mlm_probability, generator, max_predictions)
        random_positions = (labels != masking.IGNORE_INDEX) & (masked != mask_token_id) & (masked != input_ids)
        masked = masked.clone()
        masked[random_positions] = replace_random(input_ids, int(random_positions.sum()), generator)
        return masked, labels
    return mask_tokens


def no_ignore_labels(input_ids, special_tokens_mask, vocab_size, mask_token_id, mlm_probability=0.15,
                     generator=None, max_predictions=None):
    masked, _ = masking.mask_tokens(input_ids, special_tokens_mask, vocab_size, mask_token_id, mlm_probability,
                                    generator, max_predictions)
    return masked, input_ids.clone()  # a label at every position, -100 nowhere


MISTAKES = {
    "one random id for the whole batch": (
        mask_tokens_with(lambda ids, n, g: torch.randint(5, 500, (1,), generator=g).expand(n)),
        r"random replacements use only 1 different ids"),
    "the random 10% always [UNK]": (
        mask_tokens_with(lambda ids, n, g: torch.full((n,), 1)), r"random replacements use only 1 different ids"),
    "random ids beyond the vocabulary": (
        mask_tokens_with(lambda ids, n, g: torch.randint(500, 1000, (n,), generator=g)), r"outside the vocabulary"),
    "labels without -100": (no_ignore_labels, r"(?s)labels hold a token id at 100% of the positions.*IGNORE_INDEX"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_check_mask_tokens_names_the_mistake(mistake):
    wrong, message = MISTAKES[mistake]
    with pytest.raises(CheckFailed, match=message):
        checks.check_mask_tokens(wrong)


# ---- lesson 03: attention's dropout ----

def sdpa(dropout):
    """Attention with the reference's scores and softmax, and dropout(weights, p) as given."""
    import math

    def scaled_dot_product_attention(q, k, v, mask=None, dropout_p=0.0):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores + mask
        return dropout(scores.softmax(-1), dropout_p) @ v
    return scaled_dot_product_attention


ATTENTION_MISTAKES = {
    "dropout_p ignored": (sdpa(lambda w, p: w), r"dropout_p is ignored"),
    "kept weights not rescaled": (sdpa(lambda w, p: w * (torch.rand_like(w) >= p) if p else w),
                                  r"on average they should agree"),
}


@pytest.mark.parametrize("mistake", list(ATTENTION_MISTAKES))
def test_check_attention_names_the_mistake(mistake):
    wrong, message = ATTENTION_MISTAKES[mistake]
    with pytest.raises(CheckFailed, match=message):
        checks.check_scaled_dot_product_attention(wrong)


# ---- lesson 04: the layer's dropout ----

from bertlite import encoder  # noqa: E402


class NoDropoutLayer(encoder.BertLayer):
    def forward(self, x, mask=None):
        x = self.attention_norm(x + self.attention(x, mask))
        return self.output_norm(x + self.feed_forward(x))


class DropoutAfterNormLayer(encoder.BertLayer):
    def forward(self, x, mask=None):
        x = self.dropout(self.attention_norm(x + self.attention(x, mask)))
        return self.dropout(self.output_norm(x + self.feed_forward(x)))


@pytest.mark.parametrize("wrong, message", [(NoDropoutLayer, r"applies no dropout"),
                                            (DropoutAfterNormLayer, r"dropout comes after\s+a LayerNorm")])
def test_check_bert_layer_names_the_dropout_mistake(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_bert_layer(wrong)


# ---- a crash in the learner's code names the case ----

def test_a_crash_names_the_case_and_keeps_the_traceback():
    def split_on_punctuation(text):
        return text.split()[5]  # IndexError on short texts

    with pytest.raises(CheckFailed, match=r"case «.*»: your code raised IndexError") as info:
        checks.check_split_on_punctuation(split_on_punctuation)
    assert isinstance(info.value.__cause__, IndexError)
