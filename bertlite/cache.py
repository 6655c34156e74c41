"""Lesson 01 (and every lesson after it): the files bertlite keeps, written so nothing is lost.

Whatever bertlite computes once (vocabularies, tokenized pairs, pre-trained models, downloads)
lives in one cache folder, under a key made from everything the entry depends on. Every file is
written to a temporary name and renamed, so a crash or a full disk never leaves half a file; a
cache entry carries a SHA-256 checksum beside it, so a damaged one is noticed and rebuilt; and
tensors are loaded with weights_only=True, so a file from elsewhere can never run code.
"""

import hashlib
import os
import shutil
import urllib.request
from pathlib import Path

import torch


def cache_dir():
    """Where bertlite keeps what it computes once (vocabularies, tokenized data, checkpoints).
    Set BERTLITE_CACHE to move it."""
    d = Path(os.environ.get("BERTLITE_CACHE", Path.home() / ".cache" / "bertlite"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def cache_key(*parts, length=16):
    """One key scheme for every cache entry: a SHA-256 over everything the entry depends on.
    A part is a string, bytes, or an iterable of them (the texts of a corpus, say)."""
    h = hashlib.sha256()
    for part in parts:
        for piece in [part] if isinstance(part, (str, bytes)) else part:
            h.update(piece if isinstance(piece, bytes) else str(piece).encode("utf-8"))
            h.update(b"\0")
    return h.hexdigest()[:length]


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
            os.chmod(tmp, 0o666 & ~_umask())  # some writers (safetensors) create files only their owner may read
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


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def read_utf8(path, what="file"):
    """The text of a UTF-8 file, with newlines read as open() reads them. A missing file or one in
    another encoding (Latin-1, Windows-1252, UTF-16...) is an error that names the file, the first
    bad byte and the fix, instead of a UnicodeDecodeError from deep inside."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist (or is not a file).")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")  # all at once, so the error's offset is the file's
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{what} {path} is not UTF-8 text: byte offset {e.start} holds 0x{data[e.start]:02x}. "
            f"Convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8 old.txt > new.txt`, or "
            f"\"save as UTF-8\" in an editor) and use the converted file."
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as open() gives


def download(urls, name, what="a file"):
    """The cache's copy of a file from the web, fetched once: from the first of `urls` that
    answers. Offline, a ConnectionError says where to put the file by hand."""
    path = cache_dir() / "downloads" / name
    if path.exists():
        return path
    urls = [urls] if isinstance(urls, str) else list(urls)
    for url in urls:
        try:
            print(f"downloading {what} from {url} ...", flush=True)
            with urllib.request.urlopen(url, timeout=30) as response:
                return atomic_write(path, response.read())
        except OSError as e:
            print(f"  failed: {e}", flush=True)
    raise ConnectionError(f"could not download {what} (offline?). Tried {', '.join(urls)}. "
                          f"Download it yourself and save it as {path}.")


def cached_result(name, params, compute, recompute=False, stored=None):
    """compute()'s result (anything JSON can hold), computed once per `params` and kept in the
    cache (results/), so a second notebook that asks with the same params reads it back instead
    of repeating an experiment. `stored`: a folder of results the course ships, computed by the
    same code (reference_runs/results/); an entry there is read when the cache has none.
    recompute=True runs it again (after you changed the code)."""
    import json

    filename = f"{name}-{cache_key(json.dumps(params, sort_keys=True))}.json"
    path = cache_dir() / "results" / filename
    if not recompute and cache_entry_ok(path):
        print(f"{name}: read back from the cache ({path.name}); recompute=True runs it again")
        return json.loads(path.read_text(encoding="utf-8"))
    shipped = None if stored is None else Path(stored) / filename
    if not recompute and shipped is not None and shipped.exists():
        sidecar = checksum_path(shipped)
        if sidecar.exists() and sidecar.read_text().strip() == sha256_file(shipped):
            print(f"{name}: read from the course's stored results ({shipped}); recompute=True runs it here")
            return json.loads(shipped.read_text(encoding="utf-8"))
        print(f"{name}: {shipped} does not match its checksum; it is left as it is, and the result is computed")
    result = compute()
    write_checked(path, json.dumps(result))
    return result
