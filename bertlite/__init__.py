"""bertlite: a small but real BERT, built one lesson at a time."""

from .config import PRESETS, BertConfig
from .encoder import BertModel
from .heads import BertForPreTraining
from .loading import load_hf_state_dict
from .masking import mask_tokens
from .tokenization import WordPieceTokenizer
from .utils import pick_device, seed_everything
# Each lesson's helper adds its public names below this line.
from .nsp import PairExample, make_nsp_examples, pad_pairs
from .pretrained import from_pretrained  # lesson 08
from .sizing import approx_parameters, count_parameters  # lesson 08
from .pretraining import PretrainConfig, cached_pretrained_model, pretrain, run_pretraining
from .finetuning import (BertForMultipleChoice, BertForQuestionAnswering,  # lesson 09
                         BertForSequenceClassification, BertForTokenClassification, load_encoder)
