"""Instant feedback for the lessons' exercises.

Each `check_*` function runs a learner's function and bertlite's reference on the same inputs
(random ones and edge cases) and compares them. It prints one line when everything matches,
raises NotDoneYet while the exercise is still a stub, or raises CheckFailed naming the case,
the output, what was expected and the exercise's first hint; `hint(name, tier)` gives the next
ones (checks/hints.py).

Each check module holds, for every exercise it checks, its EXERCISES entry (the lesson, the
check, the hints in three tiers) beside its MISTAKES (the common mistakes, as code).

One module per package module it checks, named after it (checks/attention.py checks
bertlite/attention.py); harness.py holds what they share. A notebook imports from here:
`from bertlite.checks import check_padding_mask`.
"""

from .attention import (check_attention_weights, check_padding_mask, check_scaled_dot_product_attention,
                        check_split_merge_heads)
from .checkpoints import check_atomic_save
from .embeddings import check_bert_embeddings, check_sinusoidal_positions
from .encoder import check_bert_layer, check_bert_model, check_bert_pooler
from .flops import check_flops_per_token
from .harness import CheckFailed, NotDoneYet, call, compare, copy_weights, describe, run_cases
from .heads import check_masked_positions, check_mlm_head, check_mlm_loss, check_pretraining_loss
from .hints import first_hint, hint
from .masking import check_choose_for_masking, check_mask_tokens
from .nsp import check_nsp_loss, check_nsp_pairs, check_pick_other_document
from .optim import check_param_groups, check_warmup_linear
from .pretraining import check_training_step
from .quiz import quiz
from .sizing import check_embedding_parameters, check_layer_parameters
from .task_encoding import check_align_labels, check_best_span
from .tokenization import check_pair_layout, check_split_on_punctuation, check_truncate_pair, check_wordpiece

__all__ = [  # each check under the lesson that calls it (tests/test_checks_layout.py reads these groups)
    # lesson 01
    "check_split_on_punctuation", "check_wordpiece", "check_truncate_pair",
    # lesson 02
    "check_bert_embeddings", "check_sinusoidal_positions",
    # lesson 03
    "check_scaled_dot_product_attention", "check_padding_mask", "check_attention_weights", "check_split_merge_heads",
    # lesson 04
    "check_bert_layer", "check_bert_pooler", "check_bert_model",
    # lesson 05
    "check_choose_for_masking", "check_mask_tokens", "check_mlm_head", "check_mlm_loss",
    # lesson 06
    "check_pair_layout", "check_nsp_pairs", "check_nsp_loss", "check_pick_other_document",
    # lesson 07
    "check_pretraining_loss", "check_param_groups", "check_warmup_linear", "check_training_step",
    # lesson 08
    "check_embedding_parameters", "check_layer_parameters", "check_flops_per_token",
    # lesson 09
    "check_align_labels", "check_best_span",
    # lesson 10
    "check_masked_positions", "check_atomic_save",
    # every lesson: hints in three tiers, given when asked for, and a quick quiz
    "hint", "first_hint", "quiz",
    # the harness, for anyone writing a check of their own
    "CheckFailed", "NotDoneYet", "call", "compare", "copy_weights", "describe", "run_cases",
]
