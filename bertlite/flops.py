"""Lessons 07, 08 and 10: what a training step costs. FLOPs per token, the GPUs' peaks, MFU.

One formula, `flops_per_token`, for every use: lesson 08's training budget, the MFU on
`pretrain`'s progress bar and the benchmark's (benchmarks/bench_pretrain.py). A weight in a
matrix multiply costs 6 FLOPs per token in training (2 forward, 4 backward), attention's QKᵀ and
AV add 12·L·T·H, and the MLM head runs at the fraction of positions where it runs. MFU (model
FLOPs utilisation) is the FLOP/s achieved over the chip's peak, as in PaLM (Chowdhery et al., 2022).
"""

import torch


def flops_per_token(config, seq_len, mlm_fraction=1.0):
    """Training FLOPs (forward + backward) per token of BertForPreTraining on seq_len-token
    sequences. mlm_fraction: the fraction of positions the MLM head runs at, 1.0 for the dense
    head, the masking rate (0.15) with sparse_mlm.

    A weight in a matrix multiply costs 6 FLOPs per token: a multiply and an add forward, and
    twice that backward (the gradient for the input and the one for the weight). A token passes
    through each layer's Q, K, V and output projections (4·H²) and feed-forward (2·H·I), and
    through the MLM head's transform (H²) and decoder (V·H, the tied word embeddings).
    Attention's QKᵀ and AV have no weights: 2·T·H FLOPs each per token and layer forward, so
    12·L·T·H in training. Lookups, biases, LayerNorms and softmaxes multiply no matrices. The
    pooler and the NSP head run once per sequence, 6·(H² + 2H)/T per token, and are left out:
    torch's FlopCounterMode counts exactly this formula plus that (0.004% for BERT-Base at T=128).
    """
    H, L, V, I = config.hidden_size, config.num_hidden_layers, config.vocab_size, config.intermediate_size
    encoder = L * (4 * H * H + 2 * H * I)  # Q, K, V, output; the feed-forward's two matrices
    mlm_head = H * H + V * H  # the transform and the decoder
    attention = 12 * L * seq_len * H  # QKᵀ and AV, forward and backward
    return 6 * (encoder + mlm_fraction * mlm_head) + attention


# Dense bf16/fp16 tensor-core peaks from the vendors' data sheets (without sparsity), in FLOP/s.
# The first name found in the GPU's name wins, so "H100 PCIe" is listed before "H100" (SXM).
PEAK_BF16_FLOPS = {
    "H200": 989e12, "H100 PCIe": 756e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12,
    "A10": 125e12, "4090": 165e12, "3090": 71e12, "T4": 65e12, "V100": 125e12,
}


def peak_flops(device):
    """The GPU's peak bf16 FLOP/s, or None when unknown (and on CPUs). `device`: a torch.device
    or a GPU's name as torch.cuda.get_device_name gives it."""
    if isinstance(device, torch.device):
        if device.type != "cuda":
            return None
        device = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in device), None)


def mfu(tokens_per_s, flops_per_token, peak, n_devices=1):
    """Model FLOPs utilisation: the FLOP/s the model's arithmetic needs at this speed, over the
    devices' peak."""
    return tokens_per_s * flops_per_token / (peak * n_devices)
