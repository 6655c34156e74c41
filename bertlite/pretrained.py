"""Lessons 07 and 08: the one place that reads a trained model from disk.

Three kinds of source, one entry point (`load_model`):

    a run folder of `pretrain`         its newest checkpoint-*.pt and vocab.txt     (lesson 07)
    one checkpoint-*.pt file           with the run's vocab.txt beside it           (lesson 07)
    a Hugging Face BERT folder         config.json, the weights, vocab.txt          (lesson 08)

A Hugging Face BERT directory holds three files that matter:

    config.json                                the sizes (the same field names as BertConfig)
    model.safetensors or pytorch_model.bin     the weights, under Hugging Face's names
    vocab.txt                                  the WordPiece vocabulary, one token per line

`from_pretrained` reads them into bertlite's own BertConfig, model and WordPieceTokenizer; the
name translation lives in loading.py. Weights are read with safetensors or with
torch.load(weights_only=True): a checkpoint is data, and a plain unpickle would run any code
hidden in it. Their shapes are checked against config.json before the model is built, so a
config.json that does not describe them fails before anything is allocated.
"""

import inspect
import json
from pathlib import Path

import torch

from .cache import load_tensors
from .checkpoints import checkpoints_by_step, load_checkpoint, load_latest_checkpoint
from .config import BertConfig
from .encoder import BertModel
from .heads import BertForPreTraining
from .hf_weights import check_weight_shapes, load_hf_state_dict
from .tokenization import WordPieceTokenizer

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # tried in this order


def from_pretrained(path, model_class=None, strict=True):
    """(model, tokenizer) from a Hugging Face BERT directory.

    model_class: BertModel, BertForPreTraining, a task model (lesson 09; its num_labels comes
    from config.json's id2label), or None to pick BertForPreTraining when the checkpoint carries
    the pre-training heads ("cls.*" tensors) and BertModel otherwise. strict: as for
    load_hf_state_dict (False loads a BertForMaskedLM checkpoint, which has no pooler or NSP
    head, keeping those as initialised). The model is returned in eval mode, on the CPU.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory. Pass the folder that holds config.json, "
                                f"the weights ({' or '.join(WEIGHT_FILES)}) and vocab.txt.")
    config = read_config(path / "config.json")
    file = weight_file(path)
    # Every shape is checked against the config before the model is built: a config.json that
    # says vocab_size=50000000 would otherwise allocate gigabytes, and only then fail. The header
    # of a .safetensors file lists the shapes without reading a tensor; a .bin must be read whole.
    weights = read_safetensors_shapes(file) if file.suffix == ".safetensors" else read_weights(file)
    if not any(k.endswith("embeddings.word_embeddings.weight") for k in weights):
        raise ValueError(
            f"the weights in {path} are not a BERT checkpoint: there is no "
            f"embeddings.word_embeddings.weight. Its first keys are: {', '.join(list(weights)[:5])}."
        )
    check_weight_shapes(config, weights)
    state_dict = read_weights(file) if file.suffix == ".safetensors" else weights
    check_tied_decoder(state_dict)
    if model_class is None:
        has_heads = any(k.startswith("cls.") for k in state_dict)
        model_class = BertForPreTraining if has_heads else BertModel
    kwargs = {}
    if "num_labels" in inspect.signature(model_class).parameters:
        kwargs["num_labels"] = num_labels(path / "config.json")
    model = load_hf_state_dict(model_class(config, **kwargs), state_dict, strict=strict).eval()
    tokenizer = read_tokenizer(path, config)
    return model, tokenizer


def read_config(file):
    if not file.exists():
        raise FileNotFoundError(f"{file} is missing: a Hugging Face model directory has a config.json with its sizes.")
    try:
        d = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{file} is not valid JSON ({e}); is the file truncated?") from None
    if d.get("model_type", "bert") != "bert":
        raise ValueError(f"{file} describes a {d['model_type']!r} model, not a BERT (model_type='bert').")
    if d.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"{file} asks for position_embedding_type={d['position_embedding_type']!r}; "
                         f"bertlite implements BERT's learned absolute positions only.")
    try:
        return BertConfig.from_dict(d)
    except (TypeError, ValueError) as e:  # the message names the field; add which file holds it
        raise type(e)(f"{file}: {e}") from None


def num_labels(file):
    """The number of labels a task model's config.json gives (its id2label, else num_labels;
    transformers' default is 2)."""
    d = json.loads(file.read_text())
    return len(d["id2label"]) if d.get("id2label") else int(d.get("num_labels", 2))


def weight_file(path):
    """The first of WEIGHT_FILES that the directory holds."""
    for name in WEIGHT_FILES:
        if (path / name).exists():
            return path / name
    present = ", ".join(sorted(p.name for p in path.iterdir())) or "nothing"
    raise FileNotFoundError(f"{path} has no weights: expected {' or '.join(WEIGHT_FILES)}, found {present}. "
                            f"(Sharded or TensorFlow-only checkpoints are not supported.)")


def read_safetensors_shapes(file):
    """{name: shape} from a .safetensors header, reading no tensor. The file starts with the
    header's length (8 bytes, little-endian), then the header: JSON {name: {dtype, shape,
    data_offsets}}, plus an optional "__metadata__"."""
    try:
        with open(file, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            if not 2 <= length <= file.stat().st_size - 8:  # a length past the end would be read whole
                raise ValueError(f"the header length {length} does not fit in the file")
            header = json.loads(f.read(length))
        shapes = {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}
        if not all(isinstance(d, int) and d >= 0 for shape in shapes.values() for d in shape):
            raise ValueError("a shape is not a list of sizes")
    except (ValueError, TypeError, KeyError, AttributeError) as e:  # JSON errors are ValueErrors too
        raise ValueError(f"could not read the header of {file} ({type(e).__name__}: {e}). Is it a "
                         f"complete .safetensors file? A download cut short leaves a truncated file; "
                         f"delete it and fetch it again.") from None
    return shapes


def read_weights(file):
    """The state dict in a weight file, as {name: tensor} on the CPU."""
    if file.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file  # installed with transformers
        except ImportError:
            raise ImportError(f"reading {file} needs the safetensors package: pip install safetensors") from None
        try:
            return load_file(file, device="cpu")
        except Exception as e:  # a truncated or corrupt file fails deep inside the reader
            raise ValueError(f"could not read the weights in {file} ({type(e).__name__}: {e}). "
                             f"Is the file complete? A download cut short leaves a truncated file; "
                             f"delete it and fetch it again.") from None
    # weights_only=True: a pickle that would run code is refused with a message, never run.
    state_dict = load_tensors(file, "the weight file")
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f"{file} does not hold a state dict ({{name: tensor}}) but a {type(state_dict).__name__}.")
    return state_dict


def check_tied_decoder(state_dict):
    """bertlite always ties the MLM decoder to the word embeddings; refuse a checkpoint
    whose decoder is a different matrix rather than silently drop it."""
    decoder = state_dict.get("cls.predictions.decoder.weight")
    embeddings = next(v for k, v in state_dict.items() if k.endswith("embeddings.word_embeddings.weight"))
    if decoder is not None and not torch.equal(decoder, embeddings):
        raise ValueError("this checkpoint's cls.predictions.decoder.weight differs from its word embeddings; "
                         "bertlite ties the two (as BERT does) and cannot hold an untied decoder.")


def read_tokenizer(path, config):
    vocab_file = path / "vocab.txt"
    if not vocab_file.exists():
        raise FileNotFoundError(f"{vocab_file} is missing: the tokenizer needs the WordPiece vocabulary.")
    settings = path / "tokenizer_config.json"  # says whether the model is cased
    do_lower_case = json.loads(settings.read_text()).get("do_lower_case", True) if settings.exists() else True
    tokenizer = WordPieceTokenizer(vocab_file, do_lower_case=do_lower_case)
    if tokenizer.vocab_size > config.vocab_size:
        raise ValueError(f"{vocab_file} has {tokenizer.vocab_size} tokens but config.json says vocab_size="
                         f"{config.vocab_size}: the ids past {config.vocab_size - 1} have no embedding. "
                         f"Is it the vocabulary of another model?")
    return tokenizer


# --- a pre-training run's checkpoints (lesson 07) ------------------------------------------------

def load_pretrained(out):
    """(model, tokenizer) from a run's folder: its last checkpoint and its vocab.txt."""
    path, ckpt = load_latest_checkpoint(out)
    if path is None:
        raise FileNotFoundError(f"no checkpoint-*.pt that loads in {out}: pre-train first "
                                f"(python -m bertlite pretrain --out {out}).")
    return model_from_checkpoint(path, ckpt), WordPieceTokenizer(Path(out) / "vocab.txt")


def model_from_checkpoint(path, ckpt):
    """The BertForPreTraining a loaded checkpoint holds, in eval mode. Its config and every weight's
    shape are checked before the model is built, so a damaged file fails before any allocation."""
    config = BertConfig.from_dict(ckpt["model_config"])
    try:
        check_weight_shapes(config, ckpt["model"])
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    model = BertForPreTraining(config)
    model.load_state_dict(ckpt["model"])
    return model.eval()


# --- any of the three ----------------------------------------------------------------------------

def load_model(source, strict=True, model_class=None):
    """(model, tokenizer) from a run folder (its latest checkpoint-*.pt and vocab.txt), one
    checkpoint file (with the vocab.txt beside it), or a Hugging Face BERT folder. strict and
    model_class: as for from_pretrained, for a Hugging Face folder."""
    source = Path(source)
    if source.is_dir():
        if checkpoints_by_step(source):
            return load_pretrained(source)
        return from_pretrained(source, model_class, strict=strict)
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist. Pass a run folder (checkpoint-*.pt and vocab.txt), "
                                f"a checkpoint file, or a Hugging Face BERT folder.")
    ckpt = load_checkpoint(source)
    vocab = source.parent / "vocab.txt"
    if not vocab.exists():
        raise FileNotFoundError(f"{vocab} is missing: the checkpoint's tokenizer needs the run's vocab.txt beside it.")
    return model_from_checkpoint(source, ckpt), WordPieceTokenizer(vocab)


def architecture(source):
    """(class name, label names) that a Hugging Face folder's config.json records: the first of its
    "architectures" and its id2label in order, or (None, None) when `source` is no such folder.
    A fine-tuned model's class is a lesson-09 model (task_models.py), which the caller picks by name."""
    config = Path(source) / "config.json"
    if not config.is_file():
        return None, None
    d = json.loads(config.read_text(encoding="utf-8"))
    names = d.get("architectures") if isinstance(d, dict) else None
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else None
    id2label = d.get("id2label") if isinstance(d, dict) and isinstance(d.get("id2label"), dict) else {}
    try:
        labels = [id2label[k] for k in sorted(id2label, key=int)] or None
    except ValueError:
        raise ValueError(f"{config}: id2label's keys must be label numbers, like \"0\"; it has {sorted(id2label)[:5]}") from None
    return name, labels
