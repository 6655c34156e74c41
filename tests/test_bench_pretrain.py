"""benchmarks/bench_pretrain.py: it times the package's own pre-training step (training_step,
make_optimizer, a GradScaler) for both models, checks they agree, and prints the ratio; its
FLOPs and peaks are bertlite.flops'."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import bertlite.flops
import bertlite.pretraining

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench_pretrain.py"
_spec = importlib.util.spec_from_file_location("bench_pretrain", BENCH)
bench_pretrain = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_pretrain)

TINY = ["--preset", "tiny", "--vocab-size", "500", "--seq-len", "16", "--batch-size", "2", "--steps", "2",
        "--warmup", "1", "--device", "cpu", "--threads", "1"]


def test_benchmark_prints_a_ratio():
    pytest.importorskip("transformers")
    result = subprocess.run([sys.executable, str(BENCH), *TINY], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    ratio = re.search(r"ratio \(bertlite / transformers tokens/s\): ([\d.]+)x", result.stdout)
    assert ratio and float(ratio.group(1)) > 0, result.stdout
    for name in ("transformers", "bertlite"):
        assert re.search(rf"{name}:\s+[\d.]+ ms/step \(median\)\s+[\d,]+ tokens/s", result.stdout), result.stdout
    assert "bertlite.pretraining.training_step for both" in result.stdout


def test_it_times_the_package_step(monkeypatch):
    """Both models go through bertlite.pretraining.training_step, with make_optimizer's AdamW
    and schedule and a GradScaler, as pretrain sets them up; bertlite with the sparse head."""
    pytest.importorskip("transformers")
    calls = []

    def spy(model, batch, optimizer, scheduler, scaler, amp_dtype=None, sparse_mlm=True):
        calls.append((model, optimizer, scheduler, scaler, amp_dtype, sparse_mlm))
        return bertlite.pretraining.training_step(model, batch, optimizer, scheduler, scaler, amp_dtype, sparse_mlm)

    monkeypatch.setattr(bench_pretrain, "training_step", spy)
    threads = torch.get_num_threads()
    try:
        assert bench_pretrain.main(TINY) is None
    finally:
        torch.set_num_threads(threads)  # --threads 1 is process-wide
    assert len(calls) == 2 * 3  # (1 warm-up + 2 timed) steps, each model
    models = {type(c[0]).__name__ for c in calls}
    assert models == {"TransformersAdapter", "BertForPreTraining"}
    for model, optimizer, scheduler, scaler, amp_dtype, sparse_mlm in calls:
        assert sparse_mlm is True and amp_dtype is None  # fp32 on the CPU
        assert isinstance(optimizer, torch.optim.AdamW) and len(optimizer.param_groups) == 2  # BERT's groups
        assert optimizer.defaults["eps"] == 1e-6  # make_optimizer's, not torch's default
        assert isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR)
        assert isinstance(scaler, torch.amp.GradScaler) and not scaler.is_enabled()  # fp16 only
    # make_optimizer fuses AdamW wherever torch can (the CPU since torch 2.4), for both models
    if tuple(map(int, torch.__version__.split(".")[:2])) >= (2, 4):
        assert {c[1].defaults.get("fused") for c in calls} == {True}
    # the reference took the same number of scheduler steps as bertlite: the same recipe
    steps = {id(c[2]): c[2].last_epoch for c in calls}
    assert sorted(steps.values()) == [3, 3]


def test_the_adapter_gives_bertlite_batches_to_transformers():
    pytest.importorskip("transformers")
    from bertlite import BertConfig

    config = BertConfig.from_preset("tiny", vocab_size=300)
    reference, ours = bench_pretrain.build_models(config, "cpu")
    (batch,) = bench_pretrain.make_batches(config, 1, 2, 16, 0.15, "cpu")
    a, b = bench_pretrain.check_same_loss(reference, ours, batch, atol=1e-4)
    assert abs(a - b) <= 1e-4
    with torch.no_grad():  # sparse_mlm is accepted, and changes nothing for the reference
        reference.eval()
        assert reference(**batch, sparse_mlm=True).loss.item() == pytest.approx(a, abs=1e-6)


def test_fp16_needs_cuda():
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        bench_pretrain.main(["--device", "cpu", "--dtype", "fp16"])


def test_flops_and_peaks_are_the_packages():
    assert bench_pretrain.flops_per_token is bertlite.flops.flops_per_token
    assert bench_pretrain.peak_flops is bertlite.flops.peak_flops
    assert bench_pretrain.mfu is bertlite.flops.mfu
    assert not any("PEAK" in name for name in vars(bench_pretrain))  # no table of its own
    # the data sheets' dense bf16 numbers, from bertlite.flops.PEAK_BF16_FLOPS
    assert bench_pretrain.chip_peak("NVIDIA H100 80GB HBM3", "bf16") == 989e12
    assert bench_pretrain.chip_peak("NVIDIA H100 PCIe", "bf16") == 756e12
    assert bench_pretrain.chip_peak("NVIDIA H200", "fp16") == 989e12
    assert bench_pretrain.chip_peak("NVIDIA A100-SXM4-80GB", "bf16") == 312e12
    assert bench_pretrain.chip_peak("NVIDIA GeForce GTX 1080", "bf16") is None
    assert bench_pretrain.chip_peak("NVIDIA H100 80GB HBM3", "fp32") is None  # not a bf16 peak
    assert bench_pretrain.chip_peak(None, "bf16") is None  # the CPU
    assert bench_pretrain.chip_peak("NVIDIA H100 80GB HBM3", "fp32", peak_tflops=400) == 400e12


def test_mfu():
    assert bertlite.flops.mfu(1000, 1e9, 1e12) == pytest.approx(1.0)
    assert bertlite.flops.mfu(1000, 1e9, 1e12, n_devices=4) == pytest.approx(0.25)


def test_batches_mask_about_15_percent():
    from bertlite import BertConfig

    config = BertConfig.from_preset("tiny", vocab_size=500)
    (batch,) = bench_pretrain.make_batches(config, 1, 64, 128, 0.15, "cpu")
    chosen = (batch["mlm_labels"] != -100).float().mean().item()
    assert 0.13 < chosen < 0.17
    assert (batch["mlm_labels"][:, 0] == -100).all()  # [CLS] is never a target
    assert set(batch["nsp_labels"].tolist()) == {0, 1}
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "mlm_labels", "nsp_labels"}
