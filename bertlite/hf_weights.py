"""Lesson 04 (and 08): loading Hugging Face BERT weights into bertlite models.

Hugging Face nests its modules deeply (`encoder.layer.3.attention.self.query`); bertlite keeps
them flat (`layers.3.attention.query`). This file is the one place where the two sets of names
meet: the two mappings below (there and back) are the whole translation.
"""

import re
import warnings

import torch

from .config import BertConfig

# (Hugging Face pattern, bertlite name), tried in order on each key without its "bert." prefix.
HF_TO_BERTLITE = [
    (r"encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.", r"layers.\1.attention.\2."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"layers.\1.attention.dense."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"layers.\1.attention_norm."),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.", r"layers.\1.intermediate."),
    (r"encoder\.layer\.(\d+)\.output\.dense\.", r"layers.\1.output_dense."),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"layers.\1.output_norm."),
    (r"cls\.predictions\.transform\.dense\.", r"mlm_head.transform."),
    (r"cls\.predictions\.transform\.LayerNorm\.", r"mlm_head.LayerNorm."),
    (r"cls\.predictions\.decoder\.", r"mlm_head.decoder."),  # .weight: the tied embeddings
    (r"cls\.predictions\.bias$", r"mlm_head.decoder.bias"),  # the same bias, saved twice
    (r"cls\.seq_relationship\.", r"nsp_head."),
]
# The way back, for saving in Hugging Face's layout (export.py): each bertlite name to the one
# Hugging Face name that transformers reads (`cls.predictions.bias` for the decoder's bias).
BERTLITE_TO_HF = [
    (r"layers\.(\d+)\.attention\.(query|key|value)\.", r"encoder.layer.\1.attention.self.\2."),
    (r"layers\.(\d+)\.attention\.dense\.", r"encoder.layer.\1.attention.output.dense."),
    (r"layers\.(\d+)\.attention_norm\.", r"encoder.layer.\1.attention.output.LayerNorm."),
    (r"layers\.(\d+)\.intermediate\.", r"encoder.layer.\1.intermediate.dense."),
    (r"layers\.(\d+)\.output_dense\.", r"encoder.layer.\1.output.dense."),
    (r"layers\.(\d+)\.output_norm\.", r"encoder.layer.\1.output.LayerNorm."),
    (r"mlm_head\.transform\.", r"cls.predictions.transform.dense."),
    (r"mlm_head\.LayerNorm\.", r"cls.predictions.transform.LayerNorm."),
    (r"mlm_head\.decoder\.bias$", r"cls.predictions.bias"),
    (r"mlm_head\.decoder\.", r"cls.predictions.decoder."),
    (r"nsp_head\.", r"cls.seq_relationship."),
]
# Keys that belong to a head: a bare BertModel drops them (and says so).
HEAD_PREFIXES = ("mlm_head.", "nsp_head.", "classifier.", "qa_outputs.")
# Keys that carry no learned weight: buffers of old checkpoints and the tied decoder weight,
# which is the word-embedding matrix itself.
NOT_WEIGHTS = re.compile(r"(^|\.)position_ids$|^cls\.predictions\.decoder\.weight$")
# The shape of each weight, by bertlite name, as the config fields that size it; a bias has the
# weight's first dimension. Task heads (classifier, qa_outputs) also depend on their number of
# labels and are left to load_hf_state_dict.
WEIGHT_SHAPES = [
    (r"embeddings\.word_embeddings\.", ("vocab_size", "hidden_size")),
    (r"embeddings\.position_embeddings\.", ("max_position_embeddings", "hidden_size")),
    (r"embeddings\.token_type_embeddings\.", ("type_vocab_size", "hidden_size")),
    (r"layers\.\d+\.intermediate\.", ("intermediate_size", "hidden_size")),  # H -> 4H
    (r"layers\.\d+\.output_dense\.", ("hidden_size", "intermediate_size")),  # 4H -> H
    (r"mlm_head\.decoder\.", ("vocab_size", "hidden_size")),
    (r"nsp_head\.", (2, "hidden_size")),
    (r".*(LayerNorm|_norm)\.", ("hidden_size",)),
    (r"layers\.\d+\.attention\.(query|key|value|dense)\.|pooler\.dense\.|mlm_head\.transform\.",
     ("hidden_size", "hidden_size")),
]


def hf_to_bertlite_name(key: str) -> str:
    """Translate one Hugging Face key into bertlite's name (without any "bert." prefix)."""
    key = re.sub(r"\.gamma$", ".weight", key)  # TensorFlow-era LayerNorm names
    key = re.sub(r"\.beta$", ".bias", key)
    for pattern, replacement in HF_TO_BERTLITE:
        key, n = re.subn(pattern, replacement, key)
        if n:
            break
    return key


def bertlite_to_hf_name(key: str) -> str:
    """Translate one bertlite name into Hugging Face's, keeping a "bert." prefix if it has one:
    `bert.layers.1.output_dense.weight` -> `bert.encoder.layer.1.output.dense.weight`. The
    inverse of hf_to_bertlite_name on every key of every bertlite model (tests/test_export.py)."""
    prefix = "bert." if key.startswith("bert.") else ""
    bare = key[len(prefix):]
    for pattern, replacement in BERTLITE_TO_HF:
        bare, n = re.subn("^" + pattern, replacement, bare)
        if n:
            break
    return prefix + bare


def check_weight_shapes(config, shapes):
    """Check a checkpoint against a config before the model is built, so that a config.json that
    does not describe the weights (vocab_size=50000000 beside a small checkpoint, say) fails
    before allocating anything rather than after allocating gigabytes.

    config: a BertConfig, or its dict. shapes: {name: shape} or a state dict {name: tensor},
    under Hugging Face's names (with or without "bert.") or bertlite's. Every weight of the
    backbone and the pre-training heads must have the shape the config gives it, the layers
    must be exactly 0 to num_hidden_layers - 1, and every size in the config must be shown by
    some tensor. Raises ValueError naming the first tensor (by its name in `shapes`) that does
    not fit, its shape and the config's."""
    if isinstance(config, dict):
        config = BertConfig.from_dict(config)
    layers, shown = set(), set()  # the layer numbers present; the config fields some shape confirms
    for key, shape in shapes.items():
        bare = key.removeprefix("bert.")
        if NOT_WEIGHTS.search(bare):
            continue
        name = hf_to_bertlite_name(bare)
        layer = re.match(r"layers\.(\d+)\.", name)
        if layer:
            if int(layer[1]) >= config.num_hidden_layers:
                raise ValueError(f"tensor {key} belongs to layer {layer[1]}, but the config has "
                                 f"num_hidden_layers={config.num_hidden_layers}: the config does not "
                                 f"describe these weights. Use the config they were saved with.")
            layers.add(int(layer[1]))
        fields = next((fields for pattern, fields in WEIGHT_SHAPES if re.match(pattern, name)), None)
        if fields is None:
            continue  # a task head, or a name that load_hf_state_dict reports as unexpected
        fields = fields[:1] if name.endswith("bias") else fields
        expected = tuple(getattr(config, f) if isinstance(f, str) else f for f in fields)
        shape = tuple(getattr(shape, "shape", shape))
        if shape != expected:
            sizes = ", ".join(f"{f}={getattr(config, f)}" for f in dict.fromkeys(fields) if isinstance(f, str))
            raise ValueError(f"tensor {key} has shape {shape} in the checkpoint but {expected} in a model "
                             f"of this config ({sizes}): the config does not describe these weights. "
                             f"Use the config they were saved with.")
        shown.update(f for f in fields if isinstance(f, str))
    # A size no tensor confirms could be anything: num_hidden_layers=1000000 beside two layers'
    # weights would allocate a million layers before load_hf_state_dict found them missing.
    if len(layers) != config.num_hidden_layers:
        raise ValueError(f"the checkpoint has {len(layers)} layers (tensors named encoder.layer.N.* or "
                         f"layers.N.*) but the config has num_hidden_layers={config.num_hidden_layers}: the "
                         f"config does not describe these weights. Use the config they were saved with.")
    for field in ("vocab_size", "hidden_size", "intermediate_size", "max_position_embeddings", "type_vocab_size"):
        if field not in shown and (field != "intermediate_size" or config.num_hidden_layers):
            raise ValueError(f"no tensor in the checkpoint has a shape that shows {field}="
                             f"{getattr(config, field)}: is it a complete BERT checkpoint?")


def load_hf_state_dict(model, state_dict, strict=True):
    """Load a Hugging Face BERT state dict (BertModel, BertForPreTraining or a task model,
    with or without the "bert." prefix) into a bertlite model. Returns the model.

    strict=True (the default): a missing or unexpected tensor is an error that names it.
    strict=False: missing tensors keep their initial values and unexpected ones are skipped,
    with a warning naming both (e.g. a BertForMaskedLM checkpoint, which has no pooler)."""
    backbone_prefix = "bert." if hasattr(model, "bert") else ""
    ours = model.state_dict()
    renamed, source, dropped = {}, {}, []
    for key, tensor in state_dict.items():
        bare = key.removeprefix("bert.")
        if NOT_WEIGHTS.search(bare):
            continue
        name = hf_to_bertlite_name(bare)
        if not name.startswith(HEAD_PREFIXES):
            name = backbone_prefix + name
        elif name not in ours and not backbone_prefix:
            dropped.append(key)  # a head, offered to a bare BertModel
            continue
        renamed[name], source[name] = tensor, key

    tied = "mlm_head.decoder.weight"
    embeddings = "bert.embeddings.word_embeddings.weight"
    if tied in ours and embeddings in renamed:  # the decoder weight is the embedding matrix
        renamed[tied], source[tied] = renamed[embeddings], source[embeddings]
    missing = sorted(k for k in ours if k not in renamed)
    unexpected = sorted(source[k] for k in renamed if k not in ours)
    if (missing or unexpected) and strict:
        raise ValueError(
            f"the checkpoint does not fit {type(model).__name__}.\n"
            f"  missing from the checkpoint ({len(missing)}): {_names(sorted(_both(k) for k in missing))}\n"
            f"  unexpected in the checkpoint ({len(unexpected)}): {_names(unexpected)}\n"
            f"Is it a BERT checkpoint, and is the model built from the same config.json? "
            f"To load what fits and keep the rest as initialised (e.g. a BertForMaskedLM "
            f"checkpoint has no pooler), pass strict=False."
        )
    for name in [k for k in renamed if k in ours]:
        if renamed[name].shape != ours[name].shape:
            raise ValueError(
                f"tensor {source[name]} (bertlite: {name}) has shape {tuple(renamed[name].shape)} "
                f"in the checkpoint but {tuple(ours[name].shape)} in the model: the config does "
                f"not match the weights (compare vocab_size, hidden_size, intermediate_size, "
                f"max_position_embeddings)."
            )
    if dropped:
        heads = sorted({".".join(k.split(".")[:2]) if k.startswith("cls.") else k.split(".")[0] for k in dropped})
        warnings.warn(
            f"loading into a bare {type(model).__name__}: dropped {len(dropped)} head tensors "
            f"({', '.join(heads)}). Use BertForPreTraining or a task model to keep them.",
            stacklevel=2,
        )
    if missing or unexpected:  # only reached with strict=False
        warnings.warn(
            f"strict=False: {len(missing)} tensors keep their initial values ({_names(missing)}); "
            f"{len(unexpected)} checkpoint tensors were skipped ({_names(unexpected)}).",
            stacklevel=2,
        )
    with torch.no_grad():
        model.load_state_dict({k: v for k, v in renamed.items() if k in ours}, strict=not missing)
    return model


def _both(name):
    """A tensor's name in a checkpoint's own (Hugging Face) layout, with bertlite's beside it."""
    hf = bertlite_to_hf_name(name)
    return name if hf == name else f"{hf} (bertlite: {name})"


def _names(keys, shown=8):
    """The first few names for a message, then how many more there are."""
    if not keys:
        return "none"
    more = f" ... and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more
