"""What the evaluation scripts share: where the data and results live, running the CLI, SQuAD's
answer normalisation, and writing a result file.

The data is never part of the repository: eval/README.md says how to download the source packages
into a scratch folder (default /tmp/mmeval, or $MMEVAL).
"""

from __future__ import annotations

import json
import os
import re
import string
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

SCRATCH = Path(os.environ.get("MMEVAL", "/tmp/mmeval"))
DATA = SCRATCH / "dl" / "x"  # the unpacked source packages
RESULTS = SCRATCH / "results"


def minimax(*args: str, timeout: float | None = None) -> tuple[list[dict], str, float]:
    """Run `minimax ARGS --json`; the records it printed, its stderr, and the seconds it took."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "minimax_cli", *args, "--json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return records, proc.stderr, time.perf_counter() - started


def body(record: dict) -> dict:
    """The success body of a record (empty for an error record)."""
    return (record.get("response") or {}).get("body") or {}


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# ---- SQuAD's official answer normalisation and scores (evaluate-v2.0.py) ----------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains(text: str, gold: str) -> bool:
    """Whether the normalised gold answer occurs, as whole words, in the normalised text."""
    needle = normalize_answer(gold)
    return bool(needle) and f" {needle} " in f" {normalize_answer(text)} "
