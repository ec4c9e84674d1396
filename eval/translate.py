"""Translation coverage on Project Gutenberg text: the opening of Alice in Wonderland (brotli's test
data) and of Botchan (sentencepiece's), with a small glossary.

Each excerpt (the chapter heading and its first `--paragraphs` paragraphs) goes to
`minimax translate --to LANG -o RUN.jsonl --glossary`, which also writes the translated document
next to the JSONL. Reported per book: coverage (paragraphs translated / total) and the misaligned
ids from the record, whether the document was written with as many paragraphs as the source, and
the paragraphs that missed a glossary term.

    python -m eval.translate --model small --paragraphs 8 --to French
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from eval.common import DATA, SCRATCH, body, minimax, write_result

BOOKS = {
    "alice": (DATA / "brotli-1.2.1" / "tests" / "testdata" / "alice29.txt", "CHAPTER I", {"Alice": "Alice"}),
    "botchan": (DATA / "sentencepiece-0.2.3" / "test" / "botchan.txt", "CHAPTER I", {"Kiyo": "Kiyo"}),
}


def excerpt(path: Path, start: str, paragraphs: int) -> str:
    """From the line `start` on: its heading block and the next `paragraphs` paragraphs, each
    re-flowed onto one line as Markdown would keep it (lines, where no blank line separates them)."""
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    text = text[text.index(start) :]
    blocks = [" ".join(b.split()) for b in text.split("\n\n") if b.strip()]
    if len(blocks) == 1:  # no blank lines (Botchan: a sentence a line): a line is a paragraph
        blocks = [line.strip() for line in text.split("\n") if line.strip()]
    return "\n\n".join(blocks[: paragraphs + 1]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="small")
    parser.add_argument("--paragraphs", type=int, default=8)
    parser.add_argument("--to", default="French")
    parser.add_argument("--books", default="alice,botchan")
    args = parser.parse_args()
    folder = SCRATCH / "translate"
    folder.mkdir(parents=True, exist_ok=True)
    rows, started = [], time.perf_counter()
    for name in args.books.split(","):
        path, start, terms = BOOKS[name]
        source = folder / f"{name}.txt"
        source.write_text(excerpt(path, start, args.paragraphs), encoding="utf-8")
        glossary = folder / f"{name}.glossary.json"
        glossary.write_text(json.dumps(terms), encoding="utf-8")
        out = folder / f"{name}.{args.model}.jsonl"
        out.unlink(missing_ok=True)
        records, stderr, seconds = minimax(
            "translate", str(source), "--to", args.to, "-m", args.model, "-o", str(out), "--glossary", str(glossary)
        )
        record = json.loads(out.read_text().splitlines()[0]) if out.exists() and out.read_text().strip() else {}
        result = body(record).get("result", {})
        written = sorted(folder.glob(f"{name}.{''.join(c for c in args.to.lower() if c.isalnum())}*"))
        rows.append(
            {
                "book": name,
                "source": str(path.relative_to(DATA)),
                "paragraphs": result.get("paragraphs"),
                "coverage": result.get("coverage"),
                "misaligned": result.get("misaligned"),
                "glossary_missed": result.get("glossary_missed"),
                "document_written": str(written[0]) if written else None,
                "document_paragraphs": len([b for b in written[0].read_text().split("\n\n") if b.strip()])
                if written
                else None,
                "source_paragraphs": len([b for b in source.read_text().split("\n\n") if b.strip()]),
                "completion_tokens": body(record).get("usage", {}).get("completion_tokens"),
                "seconds": round(seconds, 1),
                "error": record.get("error") if record else stderr.strip()[-300:],
            }
        )
        write_result(f"translate_{args.model}", summary(args, rows, time.perf_counter() - started))
        print(f"{name}: coverage={result.get('coverage')} misaligned={result.get('misaligned')} {seconds:.0f}s")
    print(write_result(f"translate_{args.model}", summary(args, rows, time.perf_counter() - started)))


def summary(args, rows: list[dict], seconds: float) -> dict:
    total = sum(r["paragraphs"] or 0 for r in rows)
    done = sum(round((r["coverage"] or 0) * (r["paragraphs"] or 0)) for r in rows)
    return {
        "eval": "translation_coverage",
        "model": args.model,
        "to": args.to,
        "paragraphs_per_book": args.paragraphs,
        "coverage": round(done / total, 4) if total else None,
        "paragraphs": total,
        "seconds": round(seconds, 1),
        "rows": rows,
    }


if __name__ == "__main__":
    main()
