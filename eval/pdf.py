"""Real PDFs from pypdf's source package: the plan for a long one, and cited answers from a short one.

- issue-604.pdf (137 pages): `minimax inspect --task summarize` shows how summarize would split it
  (tokenizer only, no generation).
- GeoBase_NHNC1_Data_Model_UML_EN.pdf (19 pages): `minimax ask` with two questions whose answers
  were read off pages 1 and 3 by hand; each written citation must carry a page and a quote that
  contains the gold answer.

    python -m eval.pdf --model small
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from eval.common import DATA, body, contains, minimax, write_result

RESOURCES = DATA / "pypdf-7.1.0" / "resources"
QUESTIONS = [
    ("What is the telephone number of the GeoGratis client services?", "819-564-4857", 1),
    ("In which city was the meeting of May 2003 held?", "Victoria", 3),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="small")
    args = parser.parse_args()
    started = time.perf_counter()

    long_pdf = RESOURCES / "issue-604.pdf"
    inspect = subprocess.run(
        [sys.executable, "-m", "minimax_cli", "inspect", str(long_pdf), "--task", "summarize", "-m", args.model,
         "--json", "-q"],
        capture_output=True, text=True,
    )
    info = json.loads(inspect.stdout) if inspect.returncode == 0 else {"error": inspect.stderr.strip()}
    plan = info.get("plan", {})

    geobase = RESOURCES / "GeoBase_NHNC1_Data_Model_UML_EN.pdf"
    flags = [x for q, _, _ in QUESTIONS for x in ("--question", q)]
    records, stderr, seconds = minimax("ask", str(geobase), *flags, "-m", args.model, "--max-new-tokens", "200")
    rows = []
    for (question, gold, page), record in zip(QUESTIONS, records, strict=False):
        result = body(record).get("result", {})
        citations = result.get("citations", [])
        rows.append({
            "question": question,
            "gold": gold,
            "gold_page": page,
            "answer": result.get("answer"),
            "answer_contains_gold": contains(result.get("answer", ""), gold),
            "citations": citations,
            "citations_with_page_and_quote": sum(
                "page" in c and "page_label" in c and bool(c.get("quote")) for c in citations
            ),
            "citations_on_gold_page_with_gold_in_quote": sum(
                c.get("page") == page and contains(c.get("quote", ""), gold) for c in citations
            ),
            "dropped_citations": result.get("dropped_citations"),
            "relocated_citations": result.get("relocated_citations"),
            "cached_tokens": body(record).get("usage", {}).get("cached_tokens"),
        })
    written = sum(len(r["citations"]) for r in rows)
    print(write_result(f"pdf_{args.model}", {
        "eval": "real_pdfs",
        "model": args.model,
        "long_pdf": {"file": "pypdf-7.1.0/resources/issue-604.pdf", "pages": info.get("source", {}).get("pages"),
                     "tokens": plan.get("tokens"), "strategy": plan.get("strategy"),
                     "parts": len(plan.get("parts", [])),
                     "first_parts": [p["locator"] for p in plan.get("parts", [])[:5]],
                     "error": info.get("error")},
        "ask": {"file": "pypdf-7.1.0/resources/GeoBase_NHNC1_Data_Model_UML_EN.pdf", "seconds": round(seconds, 1),
                "citations_written": written,
                "citation_precision": round(sum(r["citations_on_gold_page_with_gold_in_quote"] for r in rows)
                                            / written, 4) if written else None,
                "rows": rows, "error": None if records else stderr.strip()[-300:]},
        "seconds": round(time.perf_counter() - started, 1),
    }))


if __name__ == "__main__":
    main()
