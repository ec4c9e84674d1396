"""`minimax bench ingest`: document loading and tokenization speed."""

from __future__ import annotations

import time


def bench_ingest(paths: list[str], tokenizer=None) -> list[dict]:
    """Pages/s for PDFs, files/s for folders, and tokens/s of tokenization when a tokenizer is given."""
    from minimax_cli.sources import load_document

    rows = []
    for path in paths:
        t0 = time.perf_counter()
        doc = load_document(path)
        seconds = time.perf_counter() - t0
        row = {"path": path, "kind": doc.kind, "seconds": seconds, "segments": len(doc.segments)}
        if doc.pages:
            row["pages_s"] = doc.pages / seconds
        if doc.files:
            row["files_s"] = len(doc.files) / seconds
        if tokenizer is not None:
            text = doc.text
            t0 = time.perf_counter()
            n = tokenizer(text)
            row["tokens"] = n
            row["tokens_s"] = n / (time.perf_counter() - t0)
        rows.append(row)
    return rows
