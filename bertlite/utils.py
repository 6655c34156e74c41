"""Small helpers every lesson uses: picking a device, seeding, writing files safely."""

import os
import random
from pathlib import Path

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


def atomic_write(path, content):
    """Write text or bytes to `path` through a temporary file and a rename, so a crash never
    leaves a half-written file under the final name. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(content, bytes):
        tmp.write_bytes(content)
    else:
        tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)
    return path
