"""Small helpers every lesson uses: picking a device and seeding."""

import random

import torch


def pick_device(prefer=None):
    """cuda -> mps -> cpu, or the device you name ("cpu", "cuda:1", ...)."""
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed=0):
    """Seed Python's and torch's generators (CPU and every GPU) so a run repeats."""
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA
    return torch.Generator().manual_seed(seed)
