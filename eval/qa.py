"""QA with citations on SQuAD v2 dev questions packed into long haystacks.

Each question's own paragraph is hidden at a random depth among paragraphs of *other* SQuAD
articles (so an unanswerable question stays unanswerable) until the haystack holds `--tokens`
tokens under the model's tokenizer; `minimax ask` answers it. With `--per-haystack K`, K questions
from K different articles share one haystack and one `minimax ask --question ... --question ...`
call, which pays the haystack's prefill once. Scores:

- exact match and F1, SQuAD's normalisation, best over the gold answers; an unanswerable question
  scores 1 when the record says `answered: false` ("I don't know"), 0 otherwise;
- `contains`: the gold answer occurs in the answer (the model answers in sentences, not spans);
- citation precision: the share of written citations whose quote contains a gold answer (an exact
  string check after normalisation; a citation written for an unanswerable question counts as
  unsupported), and the share whose quote lies in the question's own paragraph.

    python -m eval.qa --tokens 8000 --count 20 --unanswerable 6 --per-haystack 5 --model default
"""

from __future__ import annotations

import argparse
import json
import random
import time

from eval.common import DATA, SCRATCH, body, contains, exact_match, f1, minimax, normalize_answer, write_result

SQUAD = DATA / "lce" / "long_context_eval" / "data" / "synthetic" / "json" / "squad.json"


def load_squad() -> list[dict]:
    """Every paragraph with its article title and its questions."""
    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    return [
        {"title": article["title"], "context": p["context"], "qas": p["qas"]}
        for article in data
        for p in article["paragraphs"]
    ]


def pick(paragraphs: list[dict], count: int, unanswerable: int, rng: random.Random) -> list[tuple[dict, dict]]:
    """`count` (paragraph, question) pairs, `unanswerable` of them without an answer, each from a
    different article."""
    order = rng.sample(range(len(paragraphs)), len(paragraphs))
    chosen: list[tuple[dict, dict]] = []
    titles: set[str] = set()
    want = {True: unanswerable, False: count - unanswerable}
    for i in order:
        p = paragraphs[i]
        if p["title"] in titles:
            continue
        for impossible in (True, False):
            qas = [q for q in p["qas"] if q.get("is_impossible", False) == impossible]
            if want[impossible] and qas:
                chosen.append((p, rng.choice(qas)))
                titles.add(p["title"])
                want[impossible] -= 1
                break
        if not any(want.values()):
            break
    rng.shuffle(chosen)
    return chosen


def haystack(
    golds: list[dict], paragraphs: list[dict], tokens: int, count_tokens, rng: random.Random
) -> tuple[str, list[float]]:
    """The gold paragraphs among other articles' paragraphs, about `tokens` long; their depths (0..1)."""
    titles = {g["title"] for g in golds}
    others = [p for p in paragraphs if p["title"] not in titles]
    filler, used = [], sum(count_tokens(g["context"]) + 1 for g in golds)
    for p in rng.sample(others, len(others)):
        size = count_tokens(p["context"]) + 1
        if used + size > tokens:
            break
        filler.append(p["context"])
        used += size
    texts = list(filler)
    for gold in golds:
        texts.insert(rng.randint(0, len(texts)), gold["context"])
    depths = [texts.index(g["context"]) / max(len(texts) - 1, 1) for g in golds]
    return "\n\n".join(texts) + "\n", depths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=8000, help="haystack size in model tokens")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--unanswerable", type=int, default=6)
    parser.add_argument("--model", default="default")
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-haystack", type=int, default=1, help="questions sharing one haystack and one call")
    parser.add_argument("--name", default=None, help="result file name (default qa_<tokens>_<model>)")
    args = parser.parse_args()
    name = args.name or f"qa_{args.tokens}_{args.model}"

    from transformers import AutoTokenizer  # the Qwen2.5 tokenizer both embedded presets use

    from minimax_cli.engine.embedded import EMBEDDED, prepare

    tokenizer = AutoTokenizer.from_pretrained(prepare(EMBEDDED[args.model]))

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    rng = random.Random(args.seed)
    paragraphs = load_squad()
    folder = SCRATCH / "qa" / name
    folder.mkdir(parents=True, exist_ok=True)
    rows, started = [], time.perf_counter()
    picked = pick(paragraphs, args.count, args.unanswerable, rng)
    for n, start in enumerate(range(0, len(picked), args.per_haystack), 1):
        group = picked[start : start + args.per_haystack]
        text, depths = haystack([p for p, _ in group], paragraphs, args.tokens, count_tokens, rng)
        path = folder / f"haystack_{n:02d}.txt"
        path.write_text(text, encoding="utf-8")
        flags = [x for _, qa in group for x in ("--question", qa["question"])]
        records, stderr, seconds = minimax(
            "ask", str(path), *flags, "-m", args.model, "--max-new-tokens", str(args.max_new_tokens)
        )
        for i, ((paragraph, qa), depth) in enumerate(zip(group, depths, strict=True)):
            mine = records[i : i + 1]
            rows.append(score(qa, paragraph, mine, stderr, seconds / len(group), depth, count_tokens(text)))
            print(f"{start + i + 1:>3} em={rows[-1]['em']:.0f} f1={rows[-1]['f1']:.2f} {qa['question']}", flush=True)
        write_result(name, summary(args, rows, time.perf_counter() - started))  # partial results as it goes
    print(write_result(name, summary(args, rows, time.perf_counter() - started)))


def score(
    qa: dict, paragraph: dict, records: list[dict], stderr: str, seconds: float, depth: float, tokens: int
) -> dict:
    golds = [a["text"] for a in qa["answers"]]
    result = body(records[0]).get("result", {}) if records else {}
    answered = bool(result.get("answered"))
    answer = result.get("answer", "") if answered else ""
    citations = result.get("citations", [])
    if golds:
        em = max(exact_match(answer, g) for g in golds)
        f = max(f1(answer, g) for g in golds)
    else:
        em = f = float(not answered)
    gold_paragraph = normalize_answer(paragraph["context"])
    return {
        "id": qa["id"],
        "question": qa["question"],
        "gold": golds,
        "answerable": bool(golds),
        "answer": result.get("answer", ""),
        "answered": answered,
        "em": em,
        "f1": f,
        "contains": any(contains(answer, g) for g in golds) if golds else not answered,
        "citations": len(citations),
        "supported_citations": sum(any(contains(c["quote"], g) for g in golds) for c in citations),
        "citations_in_gold_paragraph": sum(normalize_answer(c["quote"]) in gold_paragraph for c in citations),
        "dropped_citations": result.get("dropped_citations", 0),
        "relocated_citations": result.get("relocated_citations", 0),
        "haystack_tokens": tokens,
        "depth": round(depth, 2),
        "prompt_tokens": body(records[0]).get("usage", {}).get("prompt_tokens") if records else None,
        "cached_tokens": body(records[0]).get("usage", {}).get("cached_tokens") if records else None,
        "seconds": round(seconds, 1),
        "error": None if records and records[0].get("error") is None else (stderr.strip()[-300:] or "no record"),
    }


def summary(args, rows: list[dict], seconds: float) -> dict:
    def mean(values):
        values = list(values)
        return round(sum(values) / len(values), 4) if values else None

    answerable = [r for r in rows if r["answerable"]]
    written = sum(r["citations"] for r in rows)
    return {
        "eval": "squad_v2_haystack_qa",
        "model": args.model,
        "haystack_tokens": args.tokens,
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(rows) - len(answerable),
        "max_new_tokens": args.max_new_tokens,
        "seed": args.seed,
        "questions_per_haystack": args.per_haystack,
        "exact_match": mean(r["em"] for r in rows),
        "f1": mean(r["f1"] for r in rows),
        "answerable_exact_match": mean(r["em"] for r in answerable),
        "answerable_f1": mean(r["f1"] for r in answerable),
        "answerable_contains_gold": mean(r["contains"] for r in answerable),
        "unanswerable_said_dont_know": mean(not r["answered"] for r in rows if not r["answerable"]),
        "citations_written": written,
        "citations_dropped": sum(r["dropped_citations"] for r in rows),
        "citations_relocated": sum(r.get("relocated_citations", 0) for r in rows),
        "citation_precision_gold_in_quote": round(sum(r["supported_citations"] for r in rows) / written, 4)
        if written
        else None,
        "citation_precision_in_gold_paragraph": round(
            sum(r["citations_in_gold_paragraph"] for r in rows) / written, 4
        )
        if written
        else None,
        "answered_with_a_verified_citation": mean(r["citations"] > 0 for r in answerable if r["answered"]),
        "seconds": round(seconds, 1),
        "rows": rows,
    }


if __name__ == "__main__":
    main()
