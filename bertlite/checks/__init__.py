"""Instant feedback for the lessons' exercises.

Each `check_*` function runs a learner's function and bertlite's reference on the same inputs
(random ones and edge cases) and compares them. It prints one line when everything matches,
raises NotDoneYet while the exercise is still a stub, or raises CheckFailed naming the case,
the output, what was expected and the exercise's first hint; `hint(name, tier)` gives the next
ones (checks/hints.py).

One module per package module it checks, named after it (checks/attention.py checks
bertlite/attention.py); harness.py holds what they share. A notebook imports from here:
`from bertlite.checks import check_padding_mask`.
"""

from .attention import (check_attention_weights, check_padding_mask, check_scaled_dot_product_attention,
                        check_split_merge_heads)
from .checkpoints import check_atomic_save
from .embeddings import check_bert_embeddings, check_sinusoidal_positions
from .encoder import check_bert_layer, check_bert_model, check_bert_pooler
from .flops import check_flops_per_token, counted_flops_per_token
from .harness import CheckFailed, NotDoneYet, call, compare, copy_weights, describe, run_cases
from .heads import (check_masked_positions, check_mlm_head, check_mlm_loss, check_pretraining_loss,
                    check_sparse_mlm_loss)
from .hints import first_hint, hint
from .quiz import quiz
from .masking import check_choose_for_masking, check_mask_tokens
from .nsp import check_nsp_loss, check_nsp_pairs, check_pick_other_document
from .optim import check_param_groups, check_warmup_linear
from .pretraining import check_training_step
from .sizing import check_embedding_parameters, check_layer_parameters, check_training_flops_per_token
from .task_encoding import check_align_labels, check_best_span
from .tokenization import (check_basic_tokenize, check_pair_layout, check_split_on_punctuation,
                           check_truncate_pair, check_wordpiece)

__all__ = [
    # lesson 01
    "check_split_on_punctuation", "check_basic_tokenize", "check_wordpiece", "check_truncate_pair",
    # lesson 02
    "check_bert_embeddings", "check_sinusoidal_positions",
    # lesson 03
    "check_scaled_dot_product_attention", "check_padding_mask", "check_split_merge_heads", "check_attention_weights",
    # lesson 04
    "check_bert_layer", "check_bert_pooler", "check_bert_model",
    # lesson 05
    "check_mask_tokens", "check_mlm_loss", "check_choose_for_masking", "check_mlm_head",
    # lesson 06
    "check_pair_layout", "check_pick_other_document", "check_nsp_loss", "check_nsp_pairs",
    # lesson 07
    "check_param_groups", "check_warmup_linear", "check_pretraining_loss", "check_training_step",
    # lesson 08
    "check_embedding_parameters", "check_layer_parameters", "check_training_flops_per_token",
    # lesson 09
    "check_align_labels", "check_best_span",
    # lesson 10
    "check_flops_per_token", "counted_flops_per_token", "check_masked_positions", "check_sparse_mlm_loss",
    "check_atomic_save",
    # every lesson: hints in three tiers, given when asked for
    "hint", "first_hint", "quiz",
    # the harness, for anyone writing a check of their own
    "CheckFailed", "NotDoneYet", "call", "compare", "copy_weights", "describe", "run_cases",
]
