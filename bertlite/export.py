"""Lesson 08 (and 10): share a bertlite model in Hugging Face's layout, and fill in [MASK]s with it.

`save_pretrained(model, tokenizer, directory)` writes the folder that transformers'
`from_pretrained` (and bertlite's) reads:

    config.json               the sizes, model_type "bert", the architecture (and labels of a classifier)
    model.safetensors         the weights under Hugging Face's names (loading.bertlite_to_hf_name)
    vocab.txt                 the WordPiece vocabulary
    tokenizer_config.json     BertTokenizer's settings: do_lower_case, model_max_length, ...
    special_tokens_map.json   [UNK] [SEP] [PAD] [CLS] [MASK]

Every file is written through a temporary file and a rename (cache.atomic_write). The task heads
of lesson 09 are recognised by their class names, since this lesson comes before them.
"""

import json
from pathlib import Path

import torch

from ._moved import moved_name
from .cache import atomic_write
from .config import BertConfig
from .hf_weights import bertlite_to_hf_name
from .tokenization import WordPieceTokenizer

# The model classes bertlite can save; Hugging Face's classes have the same names.
ARCHITECTURES = ("BertModel", "BertForPreTraining", "BertForSequenceClassification",
                 "BertForTokenClassification", "BertForQuestionAnswering")
# BertConfig fields that are bertlite's own (lesson 10's variants), not Hugging Face's.
BERTLITE_ONLY_FIELDS = ("pre_layer_norm", "attn_implementation")
SPECIAL_TOKENS_MAP = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                      "cls_token": "[CLS]", "mask_token": "[MASK]"}


def save_pretrained(model, tokenizer, directory, labels=None, dtype=None):
    """Write `model` (one of ARCHITECTURES) and its WordPieceTokenizer into `directory` as a
    Hugging Face BERT folder; returns the directory. labels: the names of a classifier's labels
    (config.json's id2label), LABEL_0, LABEL_1, ... by default. dtype: torch.float16 or
    torch.bfloat16 stores the weights at half the size (loading casts them back to float32)."""
    kind = type(model).__name__
    if kind not in ARCHITECTURES or not isinstance(getattr(model, "config", None), BertConfig):
        raise TypeError(f"cannot save a {kind}: save_pretrained writes bertlite's {', '.join(ARCHITECTURES)}.")
    config = model.config
    if config.pre_layer_norm:
        raise ValueError("this model is pre-LN (pre_layer_norm=True, lesson 10): Hugging Face's BERT is post-LN "
                         "and has no such switch, so transformers could not compute what it computes.")
    if dtype not in (None, torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"dtype={dtype}: use torch.float32 (the default), torch.float16 or torch.bfloat16.")
    if not isinstance(tokenizer, WordPieceTokenizer):
        raise TypeError(f"tokenizer is a {type(tokenizer).__name__}; pass the model's WordPieceTokenizer.")
    if tokenizer.vocab_size > config.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model's vocab_size is "
                         f"{config.vocab_size}: is it the vocabulary of another model?")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file, not a folder. Choose a folder for the exported model.")
    num_labels = getattr(model, "num_labels", None) if kind in ARCHITECTURES[2:4] else None
    if labels is not None and (num_labels is None or len(labels) != num_labels):
        raise ValueError(f"labels has {len(labels)} names but the model has num_labels={num_labels}.")

    atomic_write(directory / "config.json", json.dumps(hf_config(model, labels), indent=2) + "\n")
    state = {k: v.to(dtype) if dtype is not None and v.is_floating_point() else v
             for k, v in hf_state_dict(model).items()}
    atomic_write(directory / "model.safetensors", lambda tmp: _save_file(state, tmp))
    vocab = Path(tokenizer.vocab_file)
    ids = range(tokenizer.vocab_size)
    atomic_write(directory / "vocab.txt", vocab.read_bytes() if vocab.is_file() else
                 "".join(t + "\n" for t in tokenizer.convert_ids_to_tokens(ids)))
    settings = {"tokenizer_class": "BertTokenizer", "do_lower_case": tokenizer.do_lower_case,
                "model_max_length": tokenizer.model_max_length, "strip_accents": tokenizer.strip_accents,
                "tokenize_chinese_chars": tokenizer.tokenize_chinese_chars,
                "do_basic_tokenize": tokenizer.do_basic_tokenize,
                "never_split": sorted(tokenizer.never_split) or None, **SPECIAL_TOKENS_MAP}
    atomic_write(directory / "tokenizer_config.json", json.dumps(settings, indent=2) + "\n")
    atomic_write(directory / "special_tokens_map.json", json.dumps(SPECIAL_TOKENS_MAP, indent=2) + "\n")
    return directory


def hf_config(model, labels=None):
    """config.json's contents: BertConfig's Hugging Face fields, model_type and architectures."""
    d = {k: v for k, v in model.config.to_dict().items() if k not in BERTLITE_ONLY_FIELDS}
    d.update(model_type="bert", architectures=[type(model).__name__], position_embedding_type="absolute")
    if type(model).__name__ in ARCHITECTURES[2:4]:  # a classifier: its labels
        names = labels or [f"LABEL_{i}" for i in range(model.num_labels)]
        d["id2label"] = {str(i): name for i, name in enumerate(names)}
        d["label2id"] = {name: i for i, name in enumerate(names)}
    return d


def hf_state_dict(model):
    """{Hugging Face name: tensor} of a bertlite model, each tensor a contiguous copy on the CPU
    (safetensors refuses tensors that share memory, as the tied decoder and embeddings do)."""
    return {bertlite_to_hf_name(k): v.detach().to("cpu").contiguous().clone()
            for k, v in model.state_dict().items()}


def _save_file(state, path):
    try:
        from safetensors.torch import save_file  # installed with transformers
    except ImportError:
        raise ImportError("writing model.safetensors needs the safetensors package: pip install safetensors") from None
    save_file(state, str(path), metadata={"format": "pt"})


RUN_RECORDS = ("metrics.jsonl", "held_out.json", "pretrain_config.json")  # what a run says about its training


def copy_run_records(source, directory):
    """Copy a run folder's RUN_RECORDS that exist into `directory`; returns the names copied."""
    copied = [name for name in RUN_RECORDS if (Path(source) / name).is_file()]
    for name in copied:
        atomic_write(Path(directory) / name, (Path(source) / name).read_bytes())
    return copied


def fill_mask(model, tokenizer, text, top_k=5):
    """The top_k completions of each [MASK] in `text`, in order: a list with one
    [(token, probability), ...] per [MASK], most probable first. `model` needs the MLM head
    (a BertForPreTraining); it runs in eval mode, on its own device."""
    if not hasattr(model, "mlm_head"):
        raise TypeError(f"a {type(model).__name__} has no masked-LM head; fill-mask needs a BertForPreTraining.")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k={top_k!r}; use a whole number >= 1.")
    enc = tokenizer(text, return_tensors="pt")
    ids, types, mask = (enc[k].reshape(1, -1) for k in ("input_ids", "token_type_ids", "attention_mask"))
    positions = (ids[0] == tokenizer.mask_token_id).nonzero().flatten()
    if len(positions) == 0:
        raise ValueError(f"{text!r} has no [MASK] to fill in; write [MASK] where a word should go.")
    device, training = next(model.parameters()).device, model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(ids.to(device), types.to(device), mask.to(device)).mlm_logits[0, positions.to(device)]
    finally:
        model.train(training)
    probs, top = logits.float().softmax(-1).topk(min(top_k, logits.shape[-1]))
    return [[(tokenizer.convert_ids_to_tokens(int(i)), float(p)) for p, i in zip(ps, ts)]
            for ps, ts in zip(probs.cpu(), top.cpu())]


def __getattr__(name):  # load_model moved to pretrained.py
    return moved_name(__name__, name)
