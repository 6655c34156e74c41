"""Lesson 09: the text the course checkpoint (reference_runs/course/) was pre-trained on.

    python -m bertlite.data.course_corpus runs/course-corpus     # then: pretrain --corpus runs/course-corpus

A folder of .txt files, one document each, for `python -m bertlite pretrain --corpus`:

- the State of the Union addresses, except the HELD_OUT_DOCUMENTS last ones, which lesson 09's
  sentence-order, punctuation and cloze tasks use: pre-training never read those tasks' text;
- the rated sentences of the VADER data (task_data.py), unlabelled: the NYT editorial and the
  Amazon review sentences grouped by the article or review they come from; tweets and movie-review
  sentences, which come one by one, in groups of SNIPPETS_PER_DOCUMENT in the data's order (an
  "IsNext" pair from such a group is two unrelated sentences of the same kind of text);
- of the movie-review sentences, only those outside the sentiment task's dev and test sets
  (the split lesson 09 uses, seed 0): no sentence the lesson scores was ever pre-trained on.

The ratings are never used: the labels stay with the tasks.
"""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

from ..cache import atomic_write
from .corpus import load_sotu
from .task_data import (HELD_OUT_DOCUMENTS, VADER_ARCHIVE, download_vader_sdist, load_movie_reviews,
                        sentiment_task)

SNIPPETS_PER_DOCUMENT = 8
OTHER_SETS = {  # file in hutto_ICWSM_2014/ -> whether its ids are "document_sentence"
    "nytEditorialSnippets_GroundTruth.txt": True,
    "amazonReviewSnippets_GroundTruth.txt": True,
    "tweets_GroundTruth.txt": False,
}


def read_rated_texts(name):
    """[(id, sentence)] of one of the VADER files, in the file's order."""
    with tarfile.open(download_vader_sdist(), "r:gz") as sdist:
        inner = next(n for n in sdist.getnames() if n.endswith(VADER_ARCHIVE))
        with tarfile.open(fileobj=io.BytesIO(sdist.extractfile(inner).read()), mode="r:gz") as tar:
            lines = tar.extractfile(f"hutto_ICWSM_2014/{name}").read().decode("utf-8", "replace").splitlines()
    return [(parts[0], parts[2].strip()) for parts in (line.split("\t") for line in lines) if len(parts) == 3]


def grouped(rows, by_document):
    """Lists of sentences: one per article or review, or runs of SNIPPETS_PER_DOCUMENT."""
    if by_document:
        groups = {}
        for id_, text in rows:
            groups.setdefault(id_.split("_")[0], []).append(text)
        return list(groups.values())
    texts = [text for _, text in rows]
    return [texts[i:i + SNIPPETS_PER_DOCUMENT] for i in range(0, len(texts), SNIPPETS_PER_DOCUMENT)]


def course_documents():
    """{file name: text}: the course checkpoint's corpus, as described above."""
    docs = {}
    for doc in load_sotu()[:-HELD_OUT_DOCUMENTS]:
        docs[f"sotu-{doc.name.replace('/', '-')}"] = doc.text
    for name, by_document in OTHER_SETS.items():
        for i, sentences in enumerate(grouped(read_rated_texts(name), by_document)):
            docs[f"{name.split('_')[0]}-{i:05d}"] = "\n\n".join(sentences)
    splits = sentiment_task()
    scored = {e.text for e in splits["dev"] + splits["test"]}
    kept = [(str(r.id), r.text) for r in load_movie_reviews() if r.text not in scored]
    for i, sentences in enumerate(grouped(kept, by_document=False)):
        docs[f"movieReviewSnippets-{i:05d}"] = "\n\n".join(sentences)
    return docs


def write_course_corpus(folder):
    """Write course_documents() into `folder`, one .txt file each; returns the number of files.
    A folder that already holds .txt files is refused, so no other corpus is ever mixed in."""
    folder = Path(folder)
    if folder.is_dir() and any(folder.glob("*.txt")):
        raise ValueError(f"{folder} already holds .txt files; write the course corpus into a new folder.")
    docs = course_documents()
    for name, text in docs.items():
        atomic_write(folder / f"{name}.txt", text + "\n")
    return len(docs)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m bertlite.data.course_corpus FOLDER")
    n = write_course_corpus(sys.argv[1])
    print(f"wrote {n} documents to {sys.argv[1]}/")
