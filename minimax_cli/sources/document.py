"""The document model every source produces and every task consumes.

A `Document` is an ordered list of `Segment`s. Each segment carries its text and a `Locator`
that says where the text came from: for PDFs the 1-based physical page and the printed page label,
for text and code the 1-based inclusive line range, for EPUB the spine item. Citations point at
locators, so a locator must always be checkable against the source (`Document.find`).

`Section`s give the document's own structure (chapters from a PDF outline or Markdown headings,
EPUB spine items, files of a repository) as runs of consecutive segments; tasks split along them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Locator:
    path: str  # the file, relative to the root the user named (a repo) or as given
    page: int | None = None  # PDF: 1-based physical page
    page_label: str | None = None  # PDF: the printed label ("iv", "23"), when the PDF has labels
    start_line: int | None = None  # text/code: first line, 1-based
    end_line: int | None = None  # text/code: last line, inclusive
    item: str | None = None  # EPUB: spine item href

    def __str__(self) -> str:
        if self.page is not None:
            label = f" ({self.page_label})" if self.page_label and self.page_label != str(self.page) else ""
            return f"{self.path} p.{self.page}{label}"
        if self.start_line is not None:
            end = f"-{self.end_line}" if self.end_line not in (None, self.start_line) else ""
            return f"{self.path}:{self.start_line}{end}"
        if self.item is not None:
            return f"{self.path}#{self.item}"
        return self.path

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Segment:
    text: str
    locator: Locator


@dataclass
class Section:
    """A run of segments `[start, end)` forming one unit of the document's own structure.

    Sections nest by `level` (1 = outermost): a section runs until the next one at the same or a
    higher level, so the level-1 sections never overlap and deeper ones lie inside them.
    """

    title: str
    start: int
    end: int
    level: int = 1


def nest_sections(headings: list[tuple[int, int, str]], total: int) -> list[Section]:
    """Sections from `(first segment, level, title)` headings in document order; a heading whose
    section would hold no segment (the next one at its level starts on the same segment) is dropped.
    """
    sections = []
    for i, (start, level, title) in enumerate(headings):
        end = next((s for s, lv, _ in headings[i + 1 :] if lv <= level), total)
        if end > start:
            sections.append(Section(title, start, end, level))
    return sections


@dataclass
class Skipped:
    """A file left out of a folder, or a spine item left out of an EPUB, and why.

    Reasons: `link_outside`, `link_ignored` (a link to a file the ignore rules or .git keep out),
    `link` (to a folder inside the tree), `link_loop`, `missing`, `special` (FIFO, socket, device),
    `submodule`, `unreadable`, `too_large`, `binary`, `empty`, `corrupt` (a damaged EPUB member).
    """

    path: str
    reason: str
    detail: str = ""


@dataclass
class Document:
    path: str  # what the user named: a file, a folder, or "-" for stdin
    kind: str  # text | markdown | pdf | epub | repo | diff
    segments: list[Segment]
    sha256: str  # of the raw input bytes (for a repo: of the sorted (path, file sha256) list)
    sections: list[Section] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    title: str | None = None
    pages: int | None = None  # PDF page count
    files: list[str] = field(default_factory=list)  # repo: files included, in order

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.segments)

    def source_info(self) -> dict:
        """What a record says about its source."""
        info: dict = {"path": self.path, "kind": self.kind, "sha256": self.sha256}
        if self.pages is not None:
            info["pages"] = self.pages
        if self.files:
            info["files"] = len(self.files)
        if self.skipped:
            info["skipped"] = [asdict(s) for s in self.skipped]
        return info
