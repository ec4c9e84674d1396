"""Documents for task tests, built straight from the dataclasses."""

from __future__ import annotations

from minimax_cli.sources.document import Document, Locator, Section, Segment


def words(n: int, word: str = "filler") -> str:
    return " ".join([word] * n)


def pdf(pages: list[str], labels: list[str] | None = None, chapters: list[tuple[str, int, int]] = ()) -> Document:
    """A PDF whose page i (1-based) holds pages[i-1]; `chapters` are (title, start, end) segment runs."""
    segments = [
        Segment(text, Locator("book.pdf", page=i, page_label=labels[i - 1] if labels else str(i)))
        for i, text in enumerate(pages, 1)
    ]
    sections = [Section(title, start, end) for title, start, end in chapters]
    return Document("book.pdf", "pdf", segments, "sha-pdf", sections=sections, pages=len(pages))


def code(files: dict[str, str], kind: str = "repo") -> Document:
    """One segment per file, lines numbered from 1."""
    segments = []
    for path, text in files.items():
        lines = text.rstrip("\n").count("\n") + 1
        segments.append(Segment(text, Locator(path, start_line=1, end_line=lines)))
    sections = [Section(path, i, i + 1) for i, path in enumerate(files)]
    return Document("repo", kind, segments, "sha-repo", sections=sections, files=list(files))


def text(body: str, path: str = "notes.md", kind: str = "markdown") -> Document:
    lines = body.count("\n") + 1
    return Document(path, kind, [Segment(body, Locator(path, start_line=1, end_line=lines))], "sha-text")
