"""bertlite: a small but real BERT, built one lesson at a time."""

from .config import PRESETS, BertConfig
from .encoder import BertModel
from .heads import BertForPreTraining
from .loading import load_hf_state_dict
from .masking import mask_tokens
from .tokenization import WordPieceTokenizer
from .utils import pick_device, seed_everything
# Each lesson's helper adds its public names below this line.
