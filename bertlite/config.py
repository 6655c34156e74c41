"""Lesson 02 (and every lesson after it): BertConfig, every size and switch of a BERT model,
with Hugging Face's field names.

The defaults are BERT-Base's (Devlin et al., 2019), the same as `transformers.BertConfig`,
so a `config.json` saved by Hugging Face loads here unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass
from pathlib import Path

# The official shapes (Devlin et al. 2019; Turc et al. 2019, "Well-Read Students Learn Better").
# Parameter counts are for BertModel with the 30,522-token uncased vocabulary; lesson 08
# derives every one of them.
PRESETS = {
    "tiny": dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2),  # 4.4M
    "mini": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4),  # 11.2M
    "small": dict(num_hidden_layers=4, hidden_size=512, num_attention_heads=8),  # 28.8M
    "medium": dict(num_hidden_layers=8, hidden_size=512, num_attention_heads=8),  # 41.4M
    "base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12),  # 109.5M
    "large": dict(num_hidden_layers=24, hidden_size=1024, num_attention_heads=16),  # 335.1M
}

# The fields that size a tensor or count something: each must be an int >= 1 (layers: >= 0).
SIZE_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
               "max_position_embeddings", "type_vocab_size")


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"  # exact, erf-based GELU, as in the original BERT
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0  # None (null in some config.json files): no padding row
    # Named variations, off by default (taught in lesson 10). Not Hugging Face fields.
    pre_layer_norm: bool = False  # True: LayerNorm before each sublayer (GPT-2 style)
    attn_implementation: str = "sdpa"  # "sdpa" (fused) or "eager" (lesson 03's code)

    def __post_init__(self):
        # Checked here, before any tensor exists, so that a bad config.json fails with a message
        # rather than deep inside torch (0 heads: a ZeroDivisionError; vocab_size=5e7: gigabytes).
        for name in SIZE_FIELDS:
            value = getattr(self, name)
            example = _whole(value) or getattr(BertConfig, name)  # 8.0 or "8" -> 8; else BERT-Base's
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name}={value!r} is a {type(value).__name__}, but sizes and counts are "
                                f"ints: write {name}={example} (in config.json: no quotes, no decimal point).")
            least = 0 if name == "num_hidden_layers" else 1  # no layers: embeddings and pooler, still a model
            if value < least:
                raise ValueError(f"{name}={value} must be at least {least}: it is a size or a count "
                                 f"(BERT-Base has {name}={example}).")
            setattr(self, name, int(value))  # a numpy integer would not survive json.dumps
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not _is_real(getattr(self, name)) or not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} is not a probability in [0, 1): "
                                 f"use 0.0 for no dropout, BERT's 0.1 otherwise.")
        if not _is_real(self.layer_norm_eps) or not 0 < self.layer_norm_eps < math.inf:
            raise ValueError(f"layer_norm_eps={self.layer_norm_eps!r} must be a positive number: it keeps "
                             f"LayerNorm from dividing by zero. BERT uses 1e-12.")
        if not _is_real(self.initializer_range) or not 0 <= self.initializer_range < math.inf:
            raise ValueError(f"initializer_range={self.initializer_range!r} must be a number >= 0: the "
                             f"standard deviation of the initial weights. BERT uses 0.02.")
        if self.pad_token_id is not None and (isinstance(self.pad_token_id, bool) or not isinstance(
                self.pad_token_id, numbers.Integral) or not 0 <= self.pad_token_id < self.vocab_size):
            raise ValueError(f"pad_token_id={self.pad_token_id!r} is not a token id in [0, {self.vocab_size}) "
                             f"(vocab_size): use the id of [PAD] in vocab.txt, 0 in BERT's vocabularies.")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not divisible by "
                f"num_attention_heads={self.num_attention_heads}: each head gets "
                f"hidden_size / num_attention_heads dimensions. Pick a head count that "
                f"divides {self.hidden_size}, e.g. {_divisor_near(self.hidden_size, self.num_attention_heads)}."
            )
        if self.hidden_act != "gelu":
            raise ValueError(
                f"hidden_act={self.hidden_act!r} is not supported: bertlite implements BERT's "
                f"exact GELU only. Use hidden_act='gelu'."
            )
        if self.attn_implementation not in ("sdpa", "eager"):
            raise ValueError(
                f"attn_implementation={self.attn_implementation!r}: use 'sdpa' or 'eager'."
            )

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "BertConfig":
        """An official shape by name, e.g. `BertConfig.from_preset("mini", vocab_size=8000)`.

        The feed-forward size is always 4·H, as in every official BERT.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        fields = dict(PRESETS[name])
        fields["intermediate_size"] = 4 * fields["hidden_size"]
        fields.update(overrides)
        return cls(**fields)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "BertConfig":
        """Build from a dict such as a Hugging Face config.json; unknown keys are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_json_file(cls, path) -> "BertConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


def _divisor_near(n: int, k: int) -> int:
    return min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: abs(d - k))


def _is_real(x) -> bool:  # a number, but not True/False, which Python counts as 1 and 0
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _whole(x):
    """The int that 8.0 or "8" stands for (JSON writes 5e7 as a float), else None."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return int(x) if isinstance(x, str) and x.strip().isdigit() else None
