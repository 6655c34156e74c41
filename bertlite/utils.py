"""Every lesson: picking a device (cuda -> mps -> cpu) and seeding."""

import random

import torch


def pick_device(prefer=None):
    """cuda -> mps -> cpu, or the device you name ("cpu", "cuda:1", ...)."""
    if prefer:
        try:
            device = torch.device(prefer)
        except RuntimeError:
            raise ValueError(f"device {prefer!r} is not a device torch knows: use cpu, cuda, cuda:1 or mps, "
                             f"or leave it out to pick cuda, then mps, then cpu.") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {prefer!r}: this torch sees no CUDA GPU (torch {torch.__version__}, "
                             f"CUDA build: {torch.version.cuda or 'no'}). Use --device cpu, or leave it out.")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {prefer!r}: there are only {torch.cuda.device_count()} CUDA GPUs "
                             f"(cuda:0 to cuda:{torch.cuda.device_count() - 1}).")
        if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"device {prefer!r}: MPS (Apple's GPU) is not available here. Use --device cpu.")
        if device.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device {prefer!r}: bertlite runs on cpu, cuda or mps.")
        return device
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
