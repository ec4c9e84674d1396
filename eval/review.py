"""Review recall on planted bugs: functions from pypdf's source package, each with one mutation.

Each mutated function goes to `minimax review` alone in a file. A planted bug counts as found when
a finding's line range covers the mutated line (`strict`), or comes within `--slack` lines of it
(`near`); `explained` also needs the finding's message to name the bug (a per-mutation word
pattern; read the stored messages to confirm). Findings far from the mutation are counted too: on
a one-bug function they are false alarms or real remarks on pypdf's code, not checked by hand.

    python -m eval.review --model default
    python -m eval.review --model default --rescore   # recompute the scores of a stored run
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import time
from pathlib import Path

from eval.common import DATA, RESULTS, SCRATCH, body, minimax, write_result

PYPDF = DATA / "pypdf-7.1.0" / "pypdf"

# (module, function, original text, mutated text, what the mutation breaks)
MUTATIONS = [
    ("_utils.py", "format_iso8824_date", 'sign = "+" if total_seconds >= 0 else "-"',
     'sign = "-" if total_seconds >= 0 else "+"', "UTC offset sign inverted"),
    ("_utils.py", "_get_max_pdf_version_header", "return versions[max(pdf_header_indices)]",
     "return versions[min(pdf_header_indices)]", "returns the lower version"),
    ("_utils.py", "check_if_whitespace_only", "return all(b in WHITESPACES_AS_BYTES for b in value)",
     "return any(b in WHITESPACES_AS_BYTES for b in value)", "any instead of all"),
    ("_utils.py", "is_char_rtl", "if any(start <= char <= end for start, end in RTL_CHARACTER_RANGES):",
     "if any(start < char <= end for start, end in RTL_CHARACTER_RANGES):", "range start excluded"),
    ("_utils.py", "matrix_multiply", "for col in zip(*b))", "for col in b)", "columns not transposed"),
    ("_page_labels.py", "number2uppercase_roman_numeral", "count, num = divmod(num, value)",
     "num, count = divmod(num, value)", "divmod results swapped"),
    ("_page_labels.py", "number2uppercase_letter", "repetitions, position = divmod(number - 1, 26)",
     "repetitions, position = divmod(number, 26)", "off by one: 1 maps to B"),
    ("_utils.py", "_human_readable_bytes", 'return f"{bytes / 10**6:.1f} MB"',
     'return f"{bytes / 10**3:.1f} MB"', "MB divided by 10**3"),
    ("_utils.py", "get_stream_size", "stream.seek(position)", "stream.seek(0)",
     "stream position not restored"),
]
# What a message must mention to explain each mutation, by function.
EXPLAINS = {
    "format_iso8824_date": r"\bsign\b|invert|revers|opposite|swapp",
    "_get_max_pdf_version_header": r"\bmin\b|\bmax\b|minimum|maximum|lowest|highest|lower|higher|latest",
    "check_if_whitespace_only": r"\bany\b|\ball\b|every",
    "is_char_rtl": r"<=|exclu|inclusive|boundar|off.by.one|start of the range|first character",
    "matrix_multiply": r"transpos|zip\(\*|column",
    "number2uppercase_roman_numeral": r"divmod|swap|order|quotient|remainder",
    "number2uppercase_letter": r"off.by.one|number - 1|minus one|zero.based|1-based|one-based",
    "_human_readable_bytes": r"10\*\*6|10\*\*3|megabyte|\bMB\b|unit|divid",
    "get_stream_size": r"seek|position|restor",
}


def function_source(module: Path, name: str) -> str:
    source = module.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(source.splitlines()[first - 1 : node.end_lineno]) + "\n"
    raise LookupError(f"{name} not in {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--max-new-tokens", type=int, default=400)
    parser.add_argument("--slack", type=int, default=2)
    parser.add_argument("--only", type=int, default=None, help="run the first N mutations")
    parser.add_argument("--rescore", action="store_true", help="score the stored run again, running nothing")
    args = parser.parse_args()
    if args.rescore:
        stored = json.loads((RESULTS / f"review_{args.model}.json").read_text(encoding="utf-8"))
        print(write_result(f"review_{args.model}", summary(args, stored["rows"], stored["seconds"])))
        return
    folder = SCRATCH / "review"
    folder.mkdir(parents=True, exist_ok=True)
    rows, started = [], time.perf_counter()
    for n, (module, name, old, new, why) in enumerate(MUTATIONS[: args.only], 1):
        original = function_source(PYPDF / module, name)
        assert original.count(old) == 1, (name, old)
        mutated = f"# from pypdf/{module}\n" + original.replace(old, new)
        line = mutated[: mutated.index(new)].count("\n") + 1
        path = folder / f"{n:02d}_{name}.py"
        path.write_text(mutated, encoding="utf-8")
        records, stderr, seconds = minimax(
            "review", str(path), "-m", args.model, "--max-new-tokens", str(args.max_new_tokens)
        )
        result = body(records[0]).get("result", {}) if records else {}
        findings = result.get("findings", [])
        strict = [f for f in findings if f["start_line"] <= line <= f["end_line"]]
        near = [f for f in findings if f["start_line"] - args.slack <= line <= f["end_line"] + args.slack]
        rows.append(
            {
                "function": f"pypdf/{module}:{name}",
                "name": name,
                "mutation": why,
                "line": line,
                "found_strict": bool(strict),
                "found_near": bool(near),
                "findings": len(findings),
                "findings_far_from_the_bug": len(findings) - len(near),
                "dropped_findings": result.get("dropped_findings"),
                "messages": [f"{f['start_line']}-{f['end_line']} {f['severity']}: {f['message']}" for f in findings],
                "seconds": round(seconds, 1),
                "error": None if records and records[0].get("error") is None else stderr.strip()[-300:],
            }
        )
        write_result(f"review_{args.model}", summary(args, rows, time.perf_counter() - started))
        print(f"{n:>2} strict={strict != []} near={near != []} {seconds:.0f}s {name}: {why}", flush=True)
    print(write_result(f"review_{args.model}", summary(args, rows, time.perf_counter() - started)))


def explained(row: dict, slack: int) -> bool:
    """Whether a finding near the mutated line names the bug."""
    name = row["function"].rsplit(":", 1)[1]
    for message in row["messages"]:
        span, text = message.split(" ", 1)
        start, end = (int(n) for n in span.split("-"))
        if start - slack <= row["line"] <= end + slack and re.search(EXPLAINS[name], text, re.IGNORECASE):
            return True
    return False


def summary(args, rows: list[dict], seconds: float) -> dict:
    count = len(rows)
    for row in rows:
        row["explained"] = explained(row, args.slack)
    return {
        "eval": "review_planted_bugs",
        "source": "pypdf 7.1.0 sdist (pypdf/_utils.py, pypdf/_page_labels.py)",
        "model": args.model,
        "max_new_tokens": args.max_new_tokens,
        "planted": count,
        "recall_strict": round(sum(r["found_strict"] for r in rows) / count, 4) if count else None,
        f"recall_within_{args.slack}_lines": round(sum(r["found_near"] for r in rows) / count, 4) if count else None,
        "recall_explained": round(sum(r["explained"] for r in rows) / count, 4) if count else None,
        "findings": sum(r["findings"] for r in rows),
        "findings_far_from_the_bug": sum(r["findings_far_from_the_bug"] for r in rows),
        "seconds": round(seconds, 1),
        "rows": rows,
    }


if __name__ == "__main__":
    main()
