"""Lesson 08: how many parameters a BERT has, where they live, and the memory training them takes.
(What training costs in FLOPs is flops.flops_per_token: one formula for lesson 08, pretrain and the
benchmark.)

With V = vocab_size, P = max_position_embeddings, S = type_vocab_size, H = hidden_size,
I = intermediate_size (4H in every official BERT) and L = num_hidden_layers:

    embeddings    V·H + P·H + S·H + 2H                   (three tables and a LayerNorm)
    one layer     4(H² + H) + 2·H·I + I + H + 4H         (Q, K, V, O; the FFN; two LayerNorms)
                  = 12H² + 13H when I = 4H
    pooler        H² + H
    BertModel     embeddings + L·layer + pooler          (+ 2H for pre-LN's final LayerNorm)
    heads         H² + H + 2H + V  (MLM: transform, LayerNorm, decoder bias; the decoder
                  weight *is* the embedding matrix) + 2H + 2 (NSP)

The famous approximation keeps only the two big terms: V·H + 12·L·H².
"""


def embedding_parameters(config):
    """Word, position and segment tables (one H-vector per row) plus their LayerNorm."""
    H = config.hidden_size
    rows = config.vocab_size + config.max_position_embeddings + config.type_vocab_size
    return rows * H + 2 * H


def layer_parameters(config):
    """One encoder block: attention (Q, K, V and the output projection), the feed-forward
    network (H -> I -> H) and two LayerNorms; every Linear has a bias."""
    H, I = config.hidden_size, config.intermediate_size
    attention = 4 * (H * H + H)  # query, key, value, dense
    feed_forward = (H * I + I) + (I * H + H)  # intermediate, output
    layer_norms = 2 * (2 * H)  # attention_norm, output_norm
    return attention + feed_forward + layer_norms


def head_parameters(config):
    """BertForPreTraining's heads. The MLM decoder's V·H weight is the word-embedding
    matrix (tied), so only its bias of V is new."""
    H, V = config.hidden_size, config.vocab_size
    mlm = (H * H + H) + 2 * H + V  # transform, LayerNorm, decoder bias
    nsp = 2 * H + 2  # Linear(H, 2)
    return mlm + nsp


def parameter_breakdown(config, model="base"):
    """{component: count} for BertModel ("base") or BertForPreTraining ("pretraining")."""
    if model not in ("base", "pretraining"):
        raise ValueError(f"model={model!r}: use 'base' (BertModel) or 'pretraining' (BertForPreTraining).")
    H = config.hidden_size
    parts = {
        "embeddings": embedding_parameters(config),
        "layers": config.num_hidden_layers * layer_parameters(config),
        "final LayerNorm": 2 * H if config.pre_layer_norm else 0,  # pre-LN only
        "pooler": H * H + H,
    }
    if model == "pretraining":
        parts["heads"] = head_parameters(config)
    return parts


def count_parameters(config, model="base"):
    """The exact number of parameters, equal to sum(p.numel() for p in m.parameters()) of
    BertModel(config) (model="base") or BertForPreTraining(config) (model="pretraining")."""
    return sum(parameter_breakdown(config, model).values())


def approx_parameters(config):
    """The back-of-the-envelope count: the word embeddings and the 12H² weights of each layer."""
    H = config.hidden_size
    return config.vocab_size * H + 12 * config.num_hidden_layers * H * H


# Bytes each parameter costs while training with AdamW: (weights, gradients, optimizer state).
# AdamW keeps two moments per parameter (m and v), in float32 unless said otherwise.
BYTES_PER_PARAMETER = {
    "fp32": (4, 4, 8),  # everything in float32
    # Mixed precision as in the ZeRO paper (Rajbhandari et al. 2020): bf16 weights and
    # gradients for the matmuls, plus a float32 master copy of the weights inside the
    # optimizer state. (torch.autocast keeps fp32 weights and gradients instead: 4 + 4 + 8,
    # the same 16 bytes.) Mixed precision saves time and activation memory, not state memory.
    "bf16-mixed": (2, 2, 4 + 8),
    "bf16": (2, 2, 4),  # everything in bf16, moments too: half the memory, coarser updates
}


def training_memory(n_parameters, precision="fp32"):
    """Bytes for the weights, gradients and AdamW state of n_parameters (activations excluded:
    they grow with batch size and sequence length, not with the parameter count alone)."""
    if precision not in BYTES_PER_PARAMETER:
        raise ValueError(f"precision={precision!r}: choose one of {', '.join(BYTES_PER_PARAMETER)}.")
    weights, grads, optimizer = BYTES_PER_PARAMETER[precision]
    return {"weights": weights * n_parameters, "gradients": grads * n_parameters,
            "AdamW state": optimizer * n_parameters}

