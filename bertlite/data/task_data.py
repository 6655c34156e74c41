"""Lesson 09: the tasks' data, all offline once cached.

- sentiment: 10,605 movie-review sentences (Pang & Lee's, the sentences SST was built from),
  each rated -4..4 by 15-29 people, from the data of the VADER paper (Hutto & Gilbert,
  ICWSM 2014) that the vaderSentiment 3.3.2 *source* distribution on PyPI ships.
- sentence order (ALBERT's SOP): two consecutive sentences of a State of the Union address, in
  order (0) or swapped (1).
- punctuation and capitalisation: lower-cased words without punctuation; one label per word
  says how it was written and which mark followed it.
- cloze QA: a sentence with a number blanked out is the question, the passage around it the
  context, the number the answer. Plus a SQuAD-format reader (and a small file to test it).

The three corpus tasks use the last HELD_OUT_DOCUMENTS addresses. They are held out from the
tasks' own training only in the sense that no other task uses them: lesson 07's pre-training
(bertlite/pretraining.py) draws from all 249 addresses, these included.
"""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from ..cache import atomic_write, cache_dir, download


HELD_OUT_DOCUMENTS = 10  # the last 10 addresses (2014-2026)


@dataclass
class TextExample:  # one label per text or text pair
    text: str
    label: float  # a class id (int) or, for regression, a real number
    text_pair: Optional[str] = None


@dataclass
class WordsExample:  # one label per word
    words: list[str]
    labels: list[int]


@dataclass
class QAExample:  # SQuAD's layout: answers are spans of the context, by character offset
    id: str
    question: str
    context: str
    answers: list[dict] = field(default_factory=list)  # [{"text": ..., "answer_start": ...}]


def split_examples(examples, seed=0, dev_fraction=0.1, test_fraction=0.1):
    """A fixed, seeded train/dev/test split: the same seed always gives the same split."""
    if dev_fraction < 0 or test_fraction < 0 or dev_fraction + test_fraction >= 1:
        raise ValueError(f"dev_fraction={dev_fraction} and test_fraction={test_fraction} must be >= 0 "
                         f"and leave something to train on (sum < 1).")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_dev, n_test = round(len(order) * dev_fraction), round(len(order) * test_fraction)
    # Each split keeps the shuffled order, so its first n examples are a random sample.
    pick = lambda idx: [examples[i] for i in idx]  # noqa: E731
    return {"train": pick(order[n_dev + n_test:]), "dev": pick(order[:n_dev]),
            "test": pick(order[n_dev:n_dev + n_test])}


VADER_SDIST = "vaderSentiment==3.3.2"
VADER_SDIST_FILE = "vaderSentiment-3.3.2.tar.gz"
VADER_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"  # inside the sdist's top folder
MOVIE_TEXTS = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"  # id \t mean \t sentence
MOVIE_RATINGS = "hutto_ICWSM_2014/movieReviewSnippets_anonDataRatings.txt"  # id \t mean \t sd \t [ratings]
NEUTRAL_BAND = 0.5  # |mean rating| < 0.5 counts as neutral and is left out of the binary task


@dataclass
class RatedSentence:
    id: int
    text: str
    rating: float  # the mean of the raters' scores, -4 (very negative) .. 4 (very positive)
    ratings: list[int]  # every rater's score


def download_vader_sdist(folder=None, quiet=False):
    """Download the vaderSentiment 3.3.2 source distribution (not the wheel, which lacks the
    ratings) with pip, once. Returns its path."""
    folder = Path(folder) if folder else cache_dir() / "downloads"
    path = folder / VADER_SDIST_FILE
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"downloading the {VADER_SDIST} source distribution (2.5 MB) from PyPI with pip, once "
              f"(a few seconds), into {folder}", flush=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               VADER_SDIST, "-d", tmp]
        result = subprocess.run(cmd, capture_output=True, text=True)
        got = Path(tmp) / VADER_SDIST_FILE
        if result.returncode != 0 or not got.exists():
            tail = "\n    ".join((result.stdout + result.stderr).strip().splitlines()[-4:])
            raise RuntimeError(
                f"could not download the {VADER_SDIST} sdist from PyPI (offline?). pip said:\n    {tail}\n"
                f"Run once with a network connection, or put {VADER_SDIST_FILE} (from "
                f"https://pypi.org/project/vaderSentiment/3.3.2/#files) into {folder}."
            )
        got.replace(path)  # atomic: a half-downloaded file never has the final name
    return path


def read_movie_reviews(archive):
    """Parse the movie-review ratings from the sdist or from hutto_ICWSM_2014.tar.gz itself."""
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        inner = [n for n in names if n.endswith(VADER_ARCHIVE)]
        if inner:  # the sdist: the ratings sit in a tar.gz inside it
            with tarfile.open(fileobj=io.BytesIO(tar.extractfile(inner[0]).read()), mode="r:gz") as ratings:
                return _read_ratings_tar(ratings, archive)
        return _read_ratings_tar(tar, archive)


def _read_ratings_tar(tar, where):
    files = {}
    for name in (MOVIE_TEXTS, MOVIE_RATINGS):
        try:
            files[name] = tar.extractfile(name).read().decode("utf-8").splitlines()
        except KeyError:
            raise ValueError(f"{where} has no {name}: is it hutto_ICWSM_2014.tar.gz or the "
                             f"{VADER_SDIST} sdist?") from None
    sentences = {}
    for n, line in enumerate(files[MOVIE_TEXTS], 1):
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{MOVIE_TEXTS}, line {n}: expected 3 tab-separated fields (id, mean, text), got {len(parts)}.")
        sentences[int(parts[0])] = RatedSentence(int(parts[0]), parts[2].strip(), float(parts[1]), [])
    for n, line in enumerate(files[MOVIE_RATINGS], 1):
        parts = line.split("\t")
        if len(parts) != 4 or int(parts[0]) not in sentences:
            raise ValueError(f"{MOVIE_RATINGS}, line {n}: expected id, mean, sd, [ratings] for a known id; got {line[:80]!r}.")
        sentences[int(parts[0])].ratings = json.loads(parts[3])
    unrated = [i for i, s in sentences.items() if not s.ratings]
    if unrated:
        raise ValueError(f"{len(unrated)} sentences have no individual ratings (first id {unrated[0]}).")
    return [sentences[i] for i in sorted(sentences)]


def load_movie_reviews():
    """All 10,605 rated sentences. Downloads the sdist the first time, then reads a cache."""
    cached = cache_dir() / "tasks" / "vader_movie_reviews.json"
    if cached.exists():
        return [RatedSentence(**r) for r in json.loads(cached.read_text(encoding="utf-8"))]
    reviews = read_movie_reviews(download_vader_sdist())
    atomic_write(cached, json.dumps([asdict(r) for r in reviews]))
    return reviews


def sentiment_task(reviews=None, neutral_band=NEUTRAL_BAND, seed=0):
    """Binary sentiment from the human ratings: positive (1) if the mean rating >= +neutral_band,
    negative (0) if <= -neutral_band; the neutral ones in between are left out, as SST-2 leaves
    out its neutral sentences. A sentence that occurs twice is kept once (the first)."""
    reviews = load_movie_reviews() if reviews is None else reviews
    seen, examples = set(), []
    for r in reviews:
        if abs(r.rating) >= neutral_band and r.text not in seen:
            seen.add(r.text)
            examples.append(TextExample(r.text, int(r.rating > 0)))
    return split_examples(examples, seed)


def held_out_documents(docs=None, n=HELD_OUT_DOCUMENTS):
    from .corpus import load_sotu

    docs = load_sotu() if docs is None else docs
    return docs[-n:]


def sentence_order_task(docs=None, seed=0):
    """ALBERT's sentence-order prediction: a pair of consecutive sentences from one paragraph,
    label 0 = in their order, 1 = swapped (each with probability 1/2). Pairs do not overlap
    (sentences 1+2, 3+4, ...), so no sentence is in two examples."""
    docs = held_out_documents() if docs is None else docs
    rng, examples = random.Random(seed), []
    for doc in docs:
        for paragraph in doc.paragraphs:
            for i in range(0, len(paragraph) - 1, 2):
                a, b = paragraph[i], paragraph[i + 1]
                swapped = rng.random() < 0.5
                examples.append(TextExample(b, 1, a) if swapped else TextExample(a, 0, b))
    return split_examples(examples, seed)


CASES = ["lower", "Capital", "UPPER"]
MARKS = ["", ",", ".", "?"]  # the mark that follows a word; ! counts as ".", ; and : as ","
PUNCTUATION_LABELS = [c + m for c in CASES for m in MARKS]  # 12 labels; id = 4·case + mark
_WORD = re.compile(r"\w+(?:['’.,]\w+)*")  # don't, U.S, 1,000 stay one word


def words_and_labels(text):
    """"Hello, World." -> (["hello", "world"], [label("Capital,"), label("Capital.")])."""
    matches = list(_WORD.finditer(text))
    words, labels = [], []
    for k, m in enumerate(matches):
        w = m.group()
        gap = text[m.end():matches[k + 1].start() if k + 1 < len(matches) else len(text)]
        mark = "?" if "?" in gap else "." if ("." in gap or "!" in gap) else "," if any(c in gap for c in ",;:") else ""
        letters = [c for c in w if c.isalpha()]
        case = "UPPER" if len(letters) > 1 and all(c.isupper() for c in letters) else "Capital" if w[0].isupper() else "lower"
        words.append(w.lower())
        labels.append(4 * CASES.index(case) + MARKS.index(mark))
    return words, labels


def punctuation_task(docs=None, window=24, seed=0):
    """Each paragraph's words, cut into windows of `window` words (the last one may be shorter),
    so sentence boundaries fall anywhere in an example. Input: the lower-cased words."""
    docs = held_out_documents() if docs is None else docs
    examples = []
    for doc in docs:
        for paragraph in doc.paragraphs:
            words, labels = words_and_labels(" ".join(paragraph))
            for i in range(0, len(words), window):
                examples.append(WordsExample(words[i:i + window], labels[i:i + window]))
    return split_examples(examples, seed)


BLANK = "[MASK]"  # the blank in a cloze question (one token, kept whole by the tokenizer)
_NUMBER = re.compile(r"(?<![\w.,])\d(?:[\d,.]*\d)?(?!\w)")  # 7, 1861, 4,000,000, 3.5


def cloze_qa_task(docs=None, seed=0):
    """Extractive QA built from the corpus. For each sentence that contains a number: the answer
    is one of its numbers (chosen at random), the question is the sentence with that number
    replaced by [MASK], and the context is that sentence with its neighbour (the one before or
    after, at random), so the answer's position in the context varies. The context holds the
    question's sentence verbatim: the task is finding and aligning, not reading comprehension."""
    docs = held_out_documents() if docs is None else docs
    rng, examples = random.Random(seed), []
    for doc in docs:
        for p, paragraph in enumerate(doc.paragraphs):
            for i, sentence in enumerate(paragraph):
                numbers = list(_NUMBER.finditer(sentence))
                if not numbers or len(paragraph) < 2:
                    continue
                m = rng.choice(numbers)
                j = i - 1 if i == len(paragraph) - 1 or (i > 0 and rng.random() < 0.5) else i + 1
                before = paragraph[j] + " " if j < i else ""
                context = before + sentence + ("" if j < i else " " + paragraph[j])
                question = sentence[:m.start()] + BLANK + sentence[m.end():]
                examples.append(QAExample(f"{doc.name}/{p}/{i}", question, context,
                                          [{"text": m.group(), "answer_start": len(before) + m.start()}]))
    return split_examples(examples, seed)


def first_number(text):
    """The cloze task's trivial baseline: the first number in the context ("" if none)."""
    m = _NUMBER.search(text)
    return m.group() if m else ""


def read_squad(path):
    """A SQuAD v1.1/v2.0 JSON file -> list of QAExample. Each answer must be the context's text
    at its answer_start (an error names the question otherwise). Unanswerable v2.0 questions get
    an empty answers list."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if "data" not in data:
        raise ValueError(f"{path} is not in SQuAD format: no top-level 'data' list.")
    examples = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = [{"text": a["text"], "answer_start": int(a["answer_start"])} for a in qa.get("answers", [])]
                for a in answers:
                    # Checked first: Python would read a negative start from the end, and an
                    # empty text matches at any offset, even one past the context.
                    if not a["text"] or not 0 <= a["answer_start"] <= len(context) - len(a["text"]):
                        raise ValueError(f"question {qa['id']}: the answer {a['text']!r} cannot start at "
                                         f"answer_start={a['answer_start']}: a non-empty answer starts at "
                                         f"an offset from 0 to {len(context) - len(a['text'])} in its context "
                                         f"({len(context)} characters). Fix answer_start (or the text).")
                    found = context[a["answer_start"]:a["answer_start"] + len(a["text"])]
                    if found != a["text"]:
                        raise ValueError(f"question {qa['id']}: the answer {a['text']!r} is not at "
                                         f"answer_start={a['answer_start']} (the context has {found!r} there).")
                examples.append(QAExample(str(qa["id"]), qa["question"], context, answers))
    return examples


def write_squad_sample(path):
    """Write a small SQuAD-format file (hand-written, for tests and for trying read_squad)."""
    paragraphs = [
        ("BERT was introduced by researchers at Google in 2018. Its largest version has 24 "
         "layers and about 340 million parameters.",
         [("When was BERT introduced?", "2018"), ("How many layers does the largest BERT have?", "24"),
          ("Who introduced BERT?", "researchers at Google")]),
        ("George Washington delivered the first annual message to Congress in New York on "
         "January 8, 1790. Later presidents sent the message in writing for more than a century.",
         [("Where was the first annual message delivered?", "New York"),
          ("Who delivered the first annual message?", "George Washington")]),
    ]
    data = {"version": "1.1", "data": [{"title": "bertlite sample", "paragraphs": [
        {"context": c, "qas": [{"id": f"sample-{i}-{k}", "question": q,
                                "answers": [{"text": a, "answer_start": c.index(a)}]}
                               for k, (q, a) in enumerate(qas)]}
        for i, (c, qas) in enumerate(paragraphs)]}]}
    atomic_write(Path(path), json.dumps(data, indent=1))
    return Path(path)


SQUAD_URL = "https://rajpurkar.github.io/SQuAD-explorer/dataset/{split}-v1.1.json"
SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"


def _download_or_none(url, name):
    """The cached download, or None when offline (these benchmarks are optional)."""
    try:
        return download(url, name)
    except ConnectionError as e:
        print(f"{e} Skipped.")
        return None


def load_squad_v1(split="dev"):
    """SQuAD v1.1 ("train" or "dev") as QAExamples, downloaded once; None when offline."""
    path = _download_or_none(SQUAD_URL.format(split=split), f"squad-{split}-v1.1.json")
    return None if path is None else read_squad(path)


def load_sst2():
    """GLUE's SST-2 train and dev splits (the test labels are not public); None when offline."""
    path = _download_or_none(SST2_URL, "SST-2.zip")
    if path is None:
        return None
    splits = {}
    with zipfile.ZipFile(path) as z:
        for split in ("train", "dev"):
            rows = z.read(f"SST-2/{split}.tsv").decode("utf-8").splitlines()[1:]  # header: sentence \t label
            splits[split] = [TextExample(s, int(l)) for s, l in (r.rsplit("\t", 1) for r in rows)]
    return splits
