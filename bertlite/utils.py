"""Small helpers every lesson uses: picking a device, seeding, writing files safely."""

import hashlib
import os
import random
import shutil
from pathlib import Path

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


def atomic_write(path, content):
    """Write `content` (text, bytes, or a function that writes a file at the path it is given,
    such as `lambda p: torch.save(obj, p)`) to `path` through a temporary file and a rename,
    so a crash never leaves a half-written file under the final name. If the write fails (a
    full disk, say), the temporary file is removed, an existing file at `path` is left as it
    was, and the OSError names the folder and its free space. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if callable(content):
            content(tmp)
        elif isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())  # on the disk before the rename makes it visible
        os.replace(tmp, path)
    except BaseException as e:
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)
        if isinstance(e, (OSError, RuntimeError)):  # torch.save reports a full disk as a RuntimeError
            free = shutil.disk_usage(path.parent).free
            reason = str(e).strip().splitlines()[-1][:300]
            if free < max(written, 1 << 20):
                reason = f"no space left on the device ({reason})"
            raise OSError(f"could not write {path}: {reason}. {path.parent} has {free / 2**20:,.1f} MiB free, "
                          f"and the file needed more than the {written / 2**20:,.1f} MiB written when it failed. "
                          f"Free some space or choose another folder; {path.name} was left as it was.") from None
        raise
    return path


# --- files that must be what they were: a checksum beside each cache entry -----------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_checked(path, content):
    """atomic_write, then PATH.sha256 beside it (atomically too). A crash between the two leaves
    an entry without its checksum, which read_checked treats as damaged and rebuilds."""
    path = Path(path)
    atomic_write(path, content)
    atomic_write(checksum_path(path), sha256_file(path) + "\n")
    return path


def checksum_path(path):
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def cache_entry_ok(path):
    """True when the cache entry at `path` exists and matches its checksum. A damaged entry (a
    missing or wrong checksum: a truncated file, a crash mid-write, an edit) is reported by
    path and removed, so the caller rebuilds it."""
    path, sidecar = Path(path), checksum_path(path)
    if not path.exists():
        sidecar.unlink(missing_ok=True)
        return False
    expected = sidecar.read_text().strip() if sidecar.exists() else None
    if expected == sha256_file(path):
        return True
    why = "has no checksum file" if expected is None else "does not match its checksum"
    print(f"bertlite: the cache entry {path} {why} (truncated or damaged): removing it and rebuilding it.")
    path.unlink()
    sidecar.unlink(missing_ok=True)
    return False


def load_tensors(path, what="file"):
    """torch.load with weights_only=True: tensors, numbers, strings and containers of them, never
    code. A file that holds anything else (a pickle that would run code) or is truncated gets an
    error naming the file; we never suggest weights_only=False for a file from elsewhere."""
    import pickle
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(f"{what} {path} holds Python objects other than tensors, numbers and strings, and "
                         f"bertlite will not unpickle it: unpickling can run any code hidden in the file. "
                         f"Use a checkpoint written by bertlite or a Hugging Face model.safetensors.") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{what} {path} cannot be read ({type(e).__name__}: {str(e).splitlines()[0][:200]}). "
                         f"Is it complete? A save cut short or a partial copy leaves a truncated file.") from None
