"""Lessons 07, 08 and 10: what a training step costs. FLOPs per token, the GPUs' peaks, MFU.

One formula: a weight in a matrix multiply costs 6 FLOPs per token in training (2 forward, 4
backward), attention's QKᵀ and AV add 12·L·H·T, and the MLM head's vocabulary projection runs at
the fraction of positions where it runs. MFU (model FLOPs utilisation) is the FLOP/s achieved
over the chip's peak, as in PaLM (Chowdhery et al., 2022).
"""

import torch


def flops_per_token(config, seq_len, mlm_fraction=1.0):
    """Training FLOPs per token: 6 per weight in a matrix multiply (2 forward, 4 backward),
    plus attention's QKᵀ and AV (12·L·H·T), plus the vocabulary projection at the fraction of
    positions where it runs (all of them, or only the masked ones with sparse_mlm)."""
    H, L, V, I = config.hidden_size, config.num_hidden_layers, config.vocab_size, config.intermediate_size
    per_layer = 4 * H * H + 2 * H * I  # Q, K, V, output; the feed-forward's two matrices
    dense = L * per_layer  # (the pooler and the NSP head run once per sequence: negligible)
    # The MLM head, its transform (H·H) and the vocabulary projection (V·H), runs at
    # mlm_fraction of the positions.
    return 6 * dense + 12 * L * H * seq_len + 6 * (H * H + V * H) * mlm_fraction


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
