"""`assemble`: the learner's notebooks become their own package, with a progress report; `progress`
turns many reports into a room's table."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bertlite.course import cli
from bertlite.course.assemble import MARKER, assemble
from bertlite.checks.hints import FIND_THE_BUG
from bertlite.course.report import progress_report, progress_table, to_json, verify

ROOT = Path(__file__).resolve().parent.parent


def notebook(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def edit_cell(path, contains, change):
    """Change the source of the first cell of `path` whose source contains `contains`."""
    nb = notebook(path)
    cell = next(c for c in nb["cells"] if contains in "".join(c["source"]))
    cell["source"] = change("".join(cell["source"]))
    path.write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture
def lessons(tmp_path):
    """Lessons 03 and 05 as a learner who solved them has them (the solutions, in a lessons folder)."""
    folder = tmp_path / "lessons"
    folder.mkdir()
    for name in ("03_attention.ipynb", "05_masked_lm.ipynb"):
        shutil.copyfile(ROOT / "solutions" / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """Lessons 03 and 05 solved, assembled and checked once for the tests that only read the result."""
    tmp = tmp_path_factory.mktemp("solved")
    folder = tmp / "lessons"
    folder.mkdir()
    for name in ("03_attention.ipynb", "05_masked_lm.ipynb"):
        shutil.copyfile(ROOT / "solutions" / name, folder / name)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    manifest, reading = assemble(folder, tmp / "mine")
    exercises = progress_report(folder, tmp / "mine", reading)
    return dict(lessons=folder, out=tmp / "mine", manifest=manifest, reading=reading, exercises=exercises,
                before=before)


def statuses(exercises):
    return {e.check.removeprefix("check_"): (e.status, e.message) for e in exercises}


def run(lessons, out, timeout=60):
    manifest, reading = assemble(lessons, out)
    return manifest, reading, statuses(progress_report(lessons, out, reading, timeout))


def test_solved_lessons_pass_and_become_the_package(solved):
    lessons, manifest, reading, found = solved["lessons"], solved["manifest"], solved["reading"], statuses(solved["exercises"])
    before, tmp_path = solved["before"], solved["out"].parent
    assert {k: s for k, (s, _) in found.items()} == dict.fromkeys(
        ["scaled_dot_product_attention", "attention_weights", "padding_mask", "split_merge_heads",
         "choose_for_masking", "mask_tokens", "mlm_head", "mlm_loss"], "passed")
    assert manifest["attention"]["scaled_dot_product_attention"] == {"from": "yours", "lesson": "03_attention", "cell": 4}
    assert manifest["encoder"]["BertLayer"] == {"from": "reference"}  # lesson 04 is not in this folder
    config = (tmp_path / "mine" / "bertlite" / "config.py").read_text()
    assert 'attn_implementation: str = "eager"  # assembled: your attention' in config  # yours runs, not the fused kernel
    assert [p["lesson"] for p in reading.problems if "is missing" in p["message"]] == [
        "01_tokenization", "02_embeddings", "04_encoder", "06_next_sentence", "07_pretraining", "08_parameters",
        "09_finetuning", "10_gpu_pretraining"]  # named, and the reference stands in
    assert len(reading.problems) == 8
    assert {p.name: p.read_bytes() for p in lessons.iterdir()} == before  # the notebooks are only read
    # The package is the learner's: it imports, says so, and runs a forward pass.
    code = ("import bertlite, torch; m = bertlite.BertModel(bertlite.BertConfig.from_preset('tiny', vocab_size=50)); "
            "print(m(torch.tensor([[2, 7, 3]]))[0].shape); print(sorted(bertlite.ASSEMBLED['attention']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path / "mine")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("bertlite: your own, assembled from your lessons")
    assert "torch.Size([1, 3, 128])" in out.stdout


def test_generated_lessons_are_not_attempted_and_keep_the_reference(tmp_path):
    manifest, reading, found = run(ROOT / "lessons", tmp_path / "mine")
    assert len(found) == 31 and {s for k, (s, _) in found.items() if k not in FIND_THE_BUG} == {"not attempted"}
    assert {found[k][0] for k in FIND_THE_BUG} == {"failed"}  # the broken function the lesson hands out
    assert manifest["attention"]["scaled_dot_product_attention"]["from"] == "reference"
    assert manifest["attention"]["scaled_dot_product_attention"]["why"] == "not attempted yet"
    for module in ("attention", "config"):  # nothing of the learner's: the reference, fused attention included
        reference = (ROOT / "bertlite" / f"{module}.py").read_text()
        assert (tmp_path / "mine" / "bertlite" / f"{module}.py").read_text() == reference


def test_a_planted_mistake_fails_its_check_and_nothing_else(lessons, tmp_path, capsys):
    (lessons / "05_masked_lm.ipynb").unlink()  # lesson 03 alone: fewer checks to run
    edit_cell(lessons / "03_attention.ipynb", "def scaled_dot_product_attention",
              lambda s: s.replace(" / math.sqrt(q.shape[-1])", ""))  # attention without 1/√d_k
    code = cli.main(["assemble", "--lessons", str(lessons), "--out", str(tmp_path / "mine"), "--verify"])
    out = capsys.readouterr().out
    assert code == 1
    assert "✗ failed        03_attention         scaled_dot_product_attention" in out
    assert out.count("✓ passed") == 3
    assert "✗ BertModel: max abs diff" in out and "only your attention differs" in out
    assert "not yet BERT: attention differs" in out
    # The package with the mistake still runs the command line (from its folder, so it is the one imported).
    run_ = subprocess.run([sys.executable, "-m", "bertlite", "pretrain", "--steps", "2", "--batch-size", "4",
                           "--log-every", "1", "--out", str(tmp_path / "run")], capture_output=True, text=True,
                          cwd=tmp_path / "mine")
    assert run_.returncode == 0, run_.stderr[-1500:]
    assert run_.stdout.startswith("bertlite: your own") and "done: 2 steps" in run_.stdout


def test_syntax_error_endless_loop_and_deleted_cell(lessons, tmp_path):
    path03, path05 = lessons / "03_attention.ipynb", lessons / "05_masked_lm.ipynb"
    edit_cell(path03, "def padding_mask", lambda s: s.replace("def padding_mask(", "def padding_mask(("))
    edit_cell(path03, "def split_heads", lambda s: s.replace("def split_heads(x, num_heads):",
                                                            "def split_heads(x, num_heads):\n    while True:\n        pass"))
    nb = notebook(path05)
    nb["cells"] = [c for c in nb["cells"] if "def mask_tokens" not in "".join(c["source"])]
    path05.write_text(json.dumps(nb))
    manifest, reading, found = run(lessons, tmp_path / "mine", timeout=10)
    assert found["padding_mask"][0] == "broken" and "syntax error" in found["padding_mask"][1]
    assert any(p["lesson"] == "03_attention" and "syntax error, line" in p["message"] for p in reading.problems)
    assert found["split_merge_heads"] == ("broken", found["split_merge_heads"][1])
    assert "timed out after 10 s" in found["split_merge_heads"][1]
    assert found["mask_tokens"][0] == "broken" and "no cell defines mask_tokens" in found["mask_tokens"][1]
    assert found["scaled_dot_product_attention"][0] == "passed" and found["mlm_loss"][0] == "passed"
    assert manifest["attention"]["padding_mask"] == {"from": "reference"}  # the reference stands in


def test_an_unreadable_notebook_is_reported_and_the_rest_goes_on(lessons, tmp_path):
    (lessons / "05_masked_lm.ipynb").write_text("{ this is not json")
    manifest, reading, found = run(lessons, tmp_path / "mine")
    assert any(p["lesson"] == "05_masked_lm" and "cannot be read" in p["message"] for p in reading.problems)
    assert found["padding_mask"][0] == "passed"
    assert "(the whole lesson)" in found


def test_assemble_never_overwrites_a_folder_it_did_not_write(lessons, tmp_path):
    mine = tmp_path / "mine" / "bertlite"
    mine.mkdir(parents=True)
    (mine / "precious.py").write_text("# the learner's own file")
    with pytest.raises(FileExistsError, match="was not written by `bertlite assemble`"):
        assemble(lessons, tmp_path / "mine")
    assert (mine / "precious.py").read_text() == "# the learner's own file"
    # Its own output is replaced on the next run.
    assemble(lessons, tmp_path / "again")
    assert (tmp_path / "again" / "bertlite" / MARKER).is_file()
    assemble(lessons, tmp_path / "again")


def test_json_report_has_no_code_and_progress_aggregates(solved, tmp_path, capsys):
    ada = json.dumps(to_json(solved["exercises"], who="ada"))
    report = json.loads(ada)
    assert report["format"] == "bertlite-progress/1" and report["who"] == "ada"
    assert report["counts"] == {"passed": 8, "failed": 0, "not attempted": 0, "broken": 0}
    assert "def " not in ada and "torch" not in ada  # statuses and messages, never code
    (tmp_path / "ada.json").write_text(ada)
    lessons = tmp_path / "lessons"  # bob's: lesson 05 only, with a mistake; lesson 03 untouched
    lessons.mkdir()
    shutil.copyfile(ROOT / "solutions" / "05_masked_lm.ipynb", lessons / "05_masked_lm.ipynb")
    edit_cell(lessons / "05_masked_lm.ipynb", "def mlm_loss", lambda s: s.replace(".mean()", ".sum()"))
    _, reading = assemble(lessons, tmp_path / "b")
    bob = to_json(progress_report(lessons, tmp_path / "b", reading), who="bob")
    (tmp_path / "bob.json").write_text(json.dumps(bob))
    assert cli.main(["progress", str(tmp_path / "ada.json"), str(tmp_path / "bob.json")]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("05 mlm_loss"))
    assert row.split()[2:4] == ["✓", "✗"] and row.endswith("bob")
    assert next(line for line in table.splitlines() if line.startswith("03 padding_mask")).split()[2:4] == ["✓", "?"]
    assert "passed" in table.splitlines()[-2] and table.splitlines()[-2].split()[1:3] == ["8", "3"]
    assert progress_table([tmp_path / "ada.json"]).count("✓") >= 8


def test_progress_refuses_a_file_that_is_not_a_report(tmp_path, capsys):
    (tmp_path / "x.json").write_text("{}")
    assert cli.main(["progress", str(tmp_path / "x.json")]) == 1
    assert "is not a report of `bertlite assemble --json`" in capsys.readouterr().err


def test_verify_on_a_solved_package_says_it_is_bert(solved):
    passed, lines = verify(solved["out"])
    out = "\n".join(lines)
    assert passed, out
    tmp_path = solved["out"].parent
    for proof in ("✓ BertModel", "✓ tokenizer: 300 of 300", "✓ masking", "✓ parameters", "✓ pre-training loss"):
        assert proof in out, out
    assert "your BERT is BERT: max diff" in out and str(tmp_path / "mine" / "bertlite") in out


def test_every_solution_passes_its_check_on_the_assembled_package(tmp_path):
    manifest, reading, found = run(ROOT / "solutions", tmp_path / "mine")
    assert len(found) == 31 and {s for s, _ in found.values()} == {"passed"}, found
    assert reading.problems == []
    yours = [f"{m}.{n}" for m, names in manifest.items() for n, e in names.items() if e["from"] == "yours"]
    assert len(yours) == len({(p.module, p.name) for p in reading.pieces if p.module})
