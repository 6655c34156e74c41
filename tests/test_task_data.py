"""The task data: the loaders parse their formats (a tar.gz built here in the layout of the real
one, and the SQuAD file the code writes), the splits are stable under the seed, the derived
tasks follow their stated rules, and the metrics equal hand computations."""

import io
import json
import subprocess
import tarfile

import pytest
import torch

from bertlite import task_metrics as metrics
from bertlite.data import task_data
from bertlite.data.corpus import Document
from bertlite.data.task_data import PUNCTUATION_LABELS, QAExample, RatedSentence, TextExample, cloze_qa_task, read_movie_reviews, read_squad, sentence_order_task, sentiment_task, split_examples, words_and_labels, write_squad_sample
from bertlite.task_encoding import encode_qa

# id, mean, sentence; and id, mean, sd, [ratings]: tab-separated, CRLF, as in hutto_ICWSM_2014
ROWS = [
    (1, 2.26666666667, "A gorgeous, witty film.", [3, 2, 2, 2, 0, 4, 3, 1, 2, 2, 4, 3, 3, 1, 2]),
    (2, -0.6, "Effective but too tepid biopic", [-1, 0, -1, 0, -1, -1, -1, -1, 0, -2, 1, 1, -1, -1, -1]),
    (3, 0.2, "It is a film.", [0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]),
    (4, -0.5, "Café scenes drag on.", [-1, 0] * 7 + [0]),
    (5, 0.5, "Not bad at all.", [1, 0] * 7 + [1]),
    (6, 1.0, "A gorgeous, witty film.", [1] * 15),  # a duplicate sentence
]


def ratings_tar_bytes(rows=ROWS):
    texts = "\r\n".join(f"{i}\t{m}\t{t}" for i, m, t, _ in rows).encode("utf-8")
    ratings = "\r\n".join(f"{i}\t{m}\t0.5\t{r}" for i, m, _, r in rows).encode("utf-8")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in ((task_data.MOVIE_TEXTS, texts), (task_data.MOVIE_RATINGS, ratings),
                           ("hutto_ICWSM_2014/tweets_GroundTruth.txt", b"1\t0.1\tother\r\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_sdist(path, inner):
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("vaderSentiment-3.3.2/" + task_data.VADER_ARCHIVE)
        info.size = len(inner)
        tar.addfile(info, io.BytesIO(inner))
    return path


def test_read_movie_reviews_from_the_inner_archive_and_from_the_sdist(tmp_path):
    inner = tmp_path / "hutto_ICWSM_2014.tar.gz"
    inner.write_bytes(ratings_tar_bytes())
    sdist = write_sdist(tmp_path / task_data.VADER_SDIST_FILE, inner.read_bytes())
    for archive in (inner, sdist):
        reviews = read_movie_reviews(archive)
        assert [r.id for r in reviews] == [1, 2, 3, 4, 5, 6]
        assert reviews[0].text == "A gorgeous, witty film."  # no trailing \r
        assert reviews[1].rating == -0.6 and reviews[1].ratings[9] == -2
        assert reviews[3].text == "Café scenes drag on."


def test_read_movie_reviews_rejects_other_archives(tmp_path):
    path = tmp_path / "other.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("readme.txt")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(ValueError, match="movieReviewSnippets_GroundTruth"):
        read_movie_reviews(path)


def test_sentiment_task_threshold_neutral_and_duplicates(tmp_path):
    inner = tmp_path / "r.tar.gz"
    inner.write_bytes(ratings_tar_bytes())
    reviews = read_movie_reviews(inner)
    splits = sentiment_task(reviews, neutral_band=0.5)
    got = sorted((e.text, e.label) for s in splits.values() for e in s)
    # 3 (0.2) is neutral; 4 (-0.5) and 5 (+0.5) sit on the band's edges and are kept; 6 repeats 1
    assert got == sorted([("A gorgeous, witty film.", 1), ("Effective but too tepid biopic", 0),
                          ("Café scenes drag on.", 0), ("Not bad at all.", 1)])


def test_load_movie_reviews_caches_and_says_so_when_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path / "cache"))

    def offline(cmd, **kw):
        assert "--no-binary" in cmd and "vaderSentiment==3.3.2" in cmd  # the sdist, not the wheel
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found (network unreachable)")

    monkeypatch.setattr(task_data.subprocess, "run", offline)
    with pytest.raises(RuntimeError, match=r"(?s)offline.*network unreachable.*put vaderSentiment-3.3.2.tar.gz"):
        task_data.load_movie_reviews()

    def pip_download(cmd, **kw):  # what pip would do: save the sdist into the -d folder
        write_sdist(task_data.Path(cmd[cmd.index("-d") + 1]) / task_data.VADER_SDIST_FILE, ratings_tar_bytes())
        return subprocess.CompletedProcess(cmd, 0, "Saved", "")

    monkeypatch.setattr(task_data.subprocess, "run", pip_download)
    first = task_data.load_movie_reviews()
    monkeypatch.setattr(task_data.subprocess, "run", offline)
    (tmp_path / "cache" / "downloads" / task_data.VADER_SDIST_FILE).unlink()
    assert task_data.load_movie_reviews() == first  # read from the parsed cache, no network
    assert isinstance(first[0], RatedSentence)


def test_split_is_stable_disjoint_and_complete():
    items = [TextExample(f"text {i}", i % 2) for i in range(1000)]
    a, b, c = split_examples(items, seed=0), split_examples(items, seed=0), split_examples(items, seed=1)
    assert a == b
    assert a["test"] != c["test"]
    assert (len(a["train"]), len(a["dev"]), len(a["test"])) == (800, 100, 100)
    texts = [e.text for s in a.values() for e in s]
    assert sorted(texts) == sorted(e.text for e in items)
    # the split of an example depends on the seed and the list, not on anything cached or global
    torch.manual_seed(123)
    assert split_examples(items, seed=0) == a
    with pytest.raises(ValueError, match="leave something to train on"):
        split_examples(items, dev_fraction=0.5, test_fraction=0.5)


def docs():
    return [Document("a", [["One is here.", "Two follows.", "Three ends it.", "Four.", "Five."],
                           ["Alone."]]),
            Document("b", [["In 1861 the war began.", "It cost $4,000,000 and 3.5 years.", "Peace came."]])]


def test_sentence_order_pairs_are_consecutive_and_disjoint():
    splits = sentence_order_task(docs(), seed=0)
    examples = [e for s in splits.values() for e in s]
    assert len(examples) == 3  # (One, Two), (Three, Four), (In 1861, It cost): no overlap, no lone sentence
    order = ["One is here.", "Two follows.", "Three ends it.", "Four.", "In 1861 the war began.",
             "It cost $4,000,000 and 3.5 years."]
    for e in examples:
        first, second = (e.text, e.text_pair) if e.label == 0 else (e.text_pair, e.text)
        assert order.index(second) == order.index(first) + 1
    assert sentence_order_task(docs(), seed=0) == splits


def test_words_and_labels_by_hand():
    words, labels = words_and_labels("Hello, World. The U.S. spent $1,000; why? NASA knows!")
    assert words == ["hello", "world", "the", "u.s", "spent", "1,000", "why", "nasa", "knows"]
    assert [PUNCTUATION_LABELS[l] for l in labels] == [
        "Capital,", "Capital.", "Capital", "UPPER.", "lower", "lower,", "lower?", "UPPER", "lower."]
    assert len(PUNCTUATION_LABELS) == 12 and PUNCTUATION_LABELS[0] == "lower"


def test_cloze_questions_blank_a_number_that_the_context_holds():
    examples = [e for s in cloze_qa_task(docs(), seed=0).values() for e in s]
    assert len(examples) == 2  # the two sentences with numbers
    for e in examples:
        a = e.answers[0]
        assert e.context[a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"]
        assert a["text"] in {"1861", "4,000,000", "3.5"}
        assert e.question.replace(task_data.BLANK, a["text"], 1) in e.context


def test_squad_sample_round_trip_and_bad_offsets(tmp_path):
    path = write_squad_sample(tmp_path / "sample.json")
    examples = read_squad(path)
    assert len(examples) == 5
    by_question = {e.question: e for e in examples}
    e = by_question["When was BERT introduced?"]
    assert e.answers == [{"text": "2018", "answer_start": e.context.index("2018")}]
    bad = path.read_text().replace('"answer_start": 0', '"answer_start": 1', 1)
    (tmp_path / "bad.json").write_text(bad)
    with pytest.raises(ValueError, match="is not at answer_start=1"):
        read_squad(tmp_path / "bad.json")


def test_encode_qa_positions_point_at_the_answer(tmp_path):
    from bertlite.tokenization import WordPieceTokenizer
    from bertlite.vocab import learn_vocab

    examples = read_squad(write_squad_sample(tmp_path / "s.json"))
    tok = WordPieceTokenizer(learn_vocab([e.context + " " + e.question for e in examples] * 3, vocab_size=120,
                                         path=tmp_path / "vocab.txt"))
    batch = encode_qa(tok, examples, max_length=128)
    for n, e in enumerate(examples):
        s, t = int(batch["start_positions"][n]), int(batch["end_positions"][n])
        assert batch["context_mask"][n, s] and batch["context_mask"][n, t]
        start_char, end_char = batch["offsets"][n][s][0], batch["offsets"][n][t][1]
        assert e.context[start_char:end_char] == e.answers[0]["text"]
        assert batch["token_type_ids"][n, s] == 1
    with pytest.raises(ValueError, match="max_length=10"):
        encode_qa(tok, examples, max_length=10)


def test_metrics_by_hand():
    p, l = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    assert metrics.accuracy(p, l) == 3 / 5
    assert metrics.f1_score(p, l) == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))  # P = R = 2/3
    assert metrics.micro_f1([0, 2, 3, 0], [0, 2, 1, 1]) == pytest.approx(2 * 1 / (2 + 3))
    assert metrics.confusion_matrix(p, l, 2).tolist() == [[1, 1], [1, 2]]
    assert metrics.normalize_answer("The  U.S. Army!") == "us army"
    assert metrics.exact_match("the Army", ["army", "navy"]) == 1.0
    assert metrics.squad_f1("new york city", ["New York"]) == pytest.approx(2 * 2 / 5)
    assert metrics.squad_f1("boston", ["New York"]) == 0.0
    assert isinstance(QAExample("x", "q", "c").answers, list)


def test_course_corpus_keeps_every_scored_sentence_out(tmp_path, monkeypatch):
    """The course checkpoint's text: no sentiment dev/test sentence, no held-out address, the
    editorials grouped by article, and never mixed into a folder that holds other text."""
    from bertlite.data import course_corpus

    rows = [(i, (-1) ** i * 2.0, f"Movie sentence number {i}.", [2] * 15) for i in range(1, 61)]
    other = {"hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt": "1_1\t0.1\tFirst of one.\r\n1_2\t0.1\tSecond of one.\r\n2_1\t0\tOnly of two.",
             "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt": "7_1\t1\tGreat phone.",
             "hutto_ICWSM_2014/tweets_GroundTruth.txt": "1\t1\tYay.\r\n2\t-1\tBoo."}
    inner = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(ratings_tar_bytes(rows))) as src, tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for member in src.getmembers():
            if member.name in (task_data.MOVIE_TEXTS, task_data.MOVIE_RATINGS):
                tar.addfile(member, src.extractfile(member))
        for name, text in other.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    sdist = write_sdist(tmp_path / "sdist.tar.gz", inner.getvalue())
    monkeypatch.setattr(course_corpus, "download_vader_sdist", lambda: sdist)
    reviews = task_data.read_movie_reviews(sdist)
    monkeypatch.setattr(course_corpus, "load_movie_reviews", lambda: reviews)
    monkeypatch.setattr(course_corpus, "sentiment_task", lambda: sentiment_task(reviews))
    addresses = [Document(f"address{i}", [[f"Speech {i} opens."], [f"Speech {i} closes."]]) for i in range(15)]
    monkeypatch.setattr(course_corpus, "load_sotu", lambda: addresses)

    assert course_corpus.write_course_corpus(tmp_path / "corpus") == len(list((tmp_path / "corpus").glob("*.txt")))
    text = "\n".join(p.read_text() for p in sorted((tmp_path / "corpus").glob("*.txt")))
    splits = sentiment_task(reviews)
    assert all(e.text not in text for e in splits["dev"] + splits["test"])
    assert all(e.text in text for e in splits["train"])
    assert "Speech 4 opens." in text and "Speech 5 opens." not in text  # the last 10 addresses stay out
    assert "First of one.\n\nSecond of one." in text and "Only of two." in text and "Yay." in text
    assert "2.0" not in text  # no rating travels with a sentence
    with pytest.raises(ValueError, match="already holds .txt files"):
        course_corpus.write_course_corpus(tmp_path / "corpus")


# ---- read_squad: every answer is where it says ----

def squad_with_answer(tmp_path, text, start):
    data = json.loads(write_squad_sample(tmp_path / "sample.json").read_text())
    qa = data["data"][0]["paragraphs"][0]["qas"][0]
    qa["answers"] = [{"text": text, "answer_start": start}]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    return data["data"][0]["paragraphs"][0]["context"], tmp_path / "bad.json"


def test_read_squad_refuses_a_negative_answer_start(tmp_path):
    context, _ = squad_with_answer(tmp_path, "2018", 0)
    # Python slices from the end with a negative start, so the text "matched" there before
    _, path = squad_with_answer(tmp_path, "2018", context.index("2018") - len(context))
    with pytest.raises(ValueError, match=r"question sample-0-0: the answer '2018' cannot start at answer_start=-\d+"):
        read_squad(path)


@pytest.mark.parametrize("start", [-1, 0, 10_000])
def test_read_squad_refuses_an_empty_answer_anywhere(tmp_path, start):
    _, path = squad_with_answer(tmp_path, "", start)  # an empty text "matched" at any offset before
    with pytest.raises(ValueError, match=rf"the answer '' cannot start at answer_start={start}"):
        read_squad(path)


def test_read_squad_refuses_an_answer_past_the_context(tmp_path):
    context, path = squad_with_answer(tmp_path, "2018", 10_000)
    with pytest.raises(ValueError, match=rf"answer_start=10000.*from 0 to {len(context) - 4}"):
        read_squad(path)
