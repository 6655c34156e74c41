"""The checks against the mistakes learners make. Every exercise lists its common mistakes as code
(MISTAKES in its check module), and its check must reject every one; where the check compares
outputs it must also name the mistake ("Your output equals ..."), while the checks of random or
crash-proof code say what is wrong in their own words. Below those, more wrong implementations,
each with the message its check must give."""

import importlib

import pytest
import torch

from bertlite import attention, checks, embeddings, encoder, masking
from bertlite.checks.harness import CheckFailed
from bertlite.checks.hints import HINTS


# --- every exercise's own MISTAKES ---------------------------------------------------------------

MODULES = ["attention", "checkpoints", "embeddings", "encoder", "flops", "heads", "masking", "nsp", "optim",
           "pretraining", "sizing", "task_encoding", "tokenization"]
ALL_MISTAKES = {exercise: mistakes for m in MODULES
            for exercise, mistakes in importlib.import_module(f"bertlite.checks.{m}").MISTAKES.items()}
CLASSES = {"BertEmbeddings": embeddings.BertEmbeddings, "BertLayer": encoder.BertLayer,
           "BertPooler": encoder.BertPooler, "BertModel": encoder.BertModel}
CHECKS = {"split_heads": lambda f: checks.check_split_merge_heads(f, attention.merge_heads),
          "merge_heads": lambda f: checks.check_split_merge_heads(attention.split_heads, f),
          "BertEmbeddings": checks.check_bert_embeddings, "BertLayer": checks.check_bert_layer,
          "BertPooler": checks.check_bert_pooler, "BertModel": checks.check_bert_model,
          "BertLMPredictionHead": checks.check_mlm_head}
DESCRIBED_NOT_NAMED = {"mask_tokens", "choose_for_masking", "pick_other_document", "nsp_pairs", "flops_per_token",
                       "atomic_save", "BertLMPredictionHead"}  # their own words

CASES = [(exercise, label) for exercise, mistakes in ALL_MISTAKES.items() for label in mistakes]


def test_every_exercise_lists_at_least_three_mistakes():
    assert set(ALL_MISTAKES) == set(HINTS)  # every exercise, with its hints and its mistakes
    assert all(len(m) >= 3 for m in ALL_MISTAKES.values()), {e: len(m) for e, m in ALL_MISTAKES.items() if len(m) < 3}


@pytest.mark.parametrize("exercise, label", CASES, ids=[f"{e}: {label}" for e, label in CASES])
def test_the_check_rejects_the_mistake_and_names_it(exercise, label):
    wrong = ALL_MISTAKES[exercise][label]
    if exercise in CLASSES:  # a mistake in forward: the lesson's class with that forward
        wrong = type(exercise, (CLASSES[exercise],), {"forward": wrong})
    check = CHECKS.get(exercise) or getattr(checks, f"check_{exercise}")
    with pytest.raises(CheckFailed) as info:
        check(wrong)
    message = str(info.value)
    if exercise not in DESCRIBED_NOT_NAMED and "your code raised" not in message:
        assert label in message, f"the check rejected it but did not name it:\n{message}"


def test_instructors_list_every_mistake_the_checks_know():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "INSTRUCTORS.md").read_text(encoding="utf-8")
    missing = [f"{exercise}: {label}" for exercise, label in CASES if label not in text]
    assert not missing, f"INSTRUCTORS.md does not list: {missing}"


# --- more wrong implementations, each with its message -----------------------------------------------


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


# ---- a crash in the learner's code names the case, the inputs, the line and the first hint ----

def test_a_crash_names_the_case_and_keeps_the_traceback():
    def split_on_punctuation(text):
        return text.split()[5]  # IndexError on short texts

    with pytest.raises(CheckFailed, match=r"case «.*»: your code raised IndexError") as info:
        checks.check_split_on_punctuation(split_on_punctuation)
    assert isinstance(info.value.__cause__, IndexError)
    assert "at line" in str(info.value) and "return text.split()[5]" in str(info.value)


class EmbeddingsWithoutDefault(embeddings.BertEmbeddings):
    def forward(self, input_ids, token_type_ids):  # no default: None reaches the lookup
        T = input_ids.shape[1]
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x + self.position_embeddings(torch.arange(T))))


def mlm_loss_without_ignore_index(logits, labels):
    log_p = logits.log_softmax(-1).reshape(-1, logits.shape[-1])
    return -log_p[torch.arange(labels.numel()), labels.reshape(-1)].mean()  # -100 is not a row index


def warmup_without_guard(step, warmup_steps, total_steps):
    return step / warmup_steps if step < warmup_steps else max(0.0, (total_steps - step) / (total_steps - warmup_steps))


CRASHES = {
    "token_type_ids without a default": (lambda: checks.check_bert_embeddings(EmbeddingsWithoutDefault),
                                         "TypeError", "x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)",
                                         "inputs: (3, 7) int64, None"),
    "index -100 in mlm_loss": (lambda: checks.check_mlm_loss(mlm_loss_without_ignore_index),
                               "IndexError", "return -log_p[torch.arange(labels.numel()), labels.reshape(-1)].mean()", "inputs: (1, 4, 7) float32, (1, 4) int64"),
    "warmup_steps = 0": (lambda: checks.check_warmup_linear(warmup_without_guard),
                         "ZeroDivisionError", "return step / warmup_steps", "inputs: 1, 1, 1"),
}


@pytest.mark.parametrize("crash", list(CRASHES))
def test_the_crashes_learners_met_are_reported_with_case_inputs_line_and_hint(crash):
    run, error, line, inputs = CRASHES[crash]
    with pytest.raises(CheckFailed) as info:
        run()
    message = str(info.value)
    assert f"your code raised {error}" in message and "case «" in message
    assert inputs in message and f"of your code: {line}" in message
    assert "hint: " in message and "hint(" in message  # tier 1, and how to ask for tier 2
