"""Mutation tests of the checks: every exercise lists its common mistakes as code (MISTAKES in its
check module), and its check must reject every one. Where the check compares outputs, it must
also name the mistake ("Your output equals ..."); the checks of random or crash-proof code say
what is wrong in their own words instead."""

import importlib

import pytest

from bertlite import attention, checks, embeddings, encoder
from bertlite.checks import CheckFailed
from bertlite.checks.hints import HINTS

MODULES = ["attention", "checkpoints", "embeddings", "encoder", "flops", "heads", "masking", "nsp", "optim",
           "pretraining", "sizing", "task_encoding", "tokenization"]
MISTAKES = {exercise: mistakes for m in MODULES
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

CASES = [(exercise, label) for exercise, mistakes in MISTAKES.items() for label in mistakes]


def test_every_exercise_lists_at_least_three_mistakes():
    assert set(MISTAKES) == set(HINTS)  # every exercise, with its hints and its mistakes
    assert all(len(m) >= 3 for m in MISTAKES.values()), {e: len(m) for e, m in MISTAKES.items() if len(m) < 3}


@pytest.mark.parametrize("exercise, label", CASES, ids=[f"{e}: {label}" for e, label in CASES])
def test_the_check_rejects_the_mistake_and_names_it(exercise, label):
    wrong = MISTAKES[exercise][label]
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
