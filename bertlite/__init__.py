"""bertlite: a small but real BERT, built one lesson at a time.

The names a learner reaches for first, each imported from the module that defines it (the
lesson map in README.md says which lesson teaches which module).
"""

from . import _moved
from .config import PRESETS, BertConfig  # noqa: F401
from .encoder import BertModel  # noqa: F401
from .task_models import (BertForMultipleChoice, BertForQuestionAnswering,  # noqa: F401
                         BertForSequenceClassification, BertForTokenClassification, load_encoder)
from .heads import BertForPreTraining  # noqa: F401
from .hf_weights import load_hf_state_dict  # noqa: F401
from .masking import mask_tokens  # noqa: F401
from .nsp import PairExample, make_nsp_examples, pad_pairs  # noqa: F401
from .pretrained import from_pretrained  # noqa: F401
from .pretraining import PretrainConfig, pretrain  # noqa: F401
from .pretraining_runs import cached_pretrained_model, lesson07_model, run_pretraining  # noqa: F401
from .sizing import approx_parameters, count_parameters  # noqa: F401
from .tokenization import WordPieceTokenizer  # noqa: F401
from .utils import pick_device, seed_everything  # noqa: F401

_moved.install()  # old import paths (bertlite.finetuning, ...) keep working: _moved.py
