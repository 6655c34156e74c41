"""benchmarks/bench_pretrain.py: it runs, checks both models agree, and prints the ratio."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_pretrain  # noqa: E402


def test_benchmark_prints_a_ratio():
    pytest.importorskip("transformers")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_pretrain.py"), "--preset", "tiny",
         "--vocab-size", "500", "--seq-len", "16", "--batch-size", "2", "--steps", "2",
         "--warmup", "1", "--device", "cpu", "--threads", "1"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    ratio = re.search(r"ratio \(bertlite / transformers tokens/s\): ([\d.]+)x", result.stdout)
    assert ratio and float(ratio.group(1)) > 0, result.stdout
    for name in ("transformers", "bertlite"):
        assert re.search(rf"{name}:\s+[\d.]+ ms/step \(median\)\s+[\d,]+ tokens/s", result.stdout), result.stdout


def test_fp16_needs_cuda():
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        bench_pretrain.main(["--device", "cpu", "--dtype", "fp16"])


def test_peak_table():
    # the data sheets' dense bf16 numbers
    assert bench_pretrain.peak_tflops("NVIDIA H100 80GB HBM3", "bf16") == 989.0
    assert bench_pretrain.peak_tflops("NVIDIA H100 PCIe", "bf16") == 756.0
    assert bench_pretrain.peak_tflops("NVIDIA H200", "bf16") == 989.0
    assert bench_pretrain.peak_tflops("NVIDIA A100-SXM4-80GB", "bf16") == 312.0
    assert bench_pretrain.peak_tflops("NVIDIA GeForce GTX 1080", "bf16") is None
    assert bench_pretrain.peak_tflops("NVIDIA H100 80GB HBM3", "fp32") is None  # not a bf16 peak


def test_batches_mask_about_15_percent():
    from bertlite import BertConfig

    config = BertConfig.from_preset("tiny", vocab_size=500)
    (batch,) = bench_pretrain.make_batches(config, 1, 64, 128, 0.15, "cpu")
    chosen = (batch["mlm_labels"] != -100).float().mean().item()
    assert 0.13 < chosen < 0.17
    assert (batch["mlm_labels"][:, 0] == -100).all()  # [CLS] is never a target
    assert set(batch["nsp_labels"].tolist()) == {0, 1}
