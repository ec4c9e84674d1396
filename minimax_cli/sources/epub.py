"""EPUB, with the standard library only: container.xml -> OPF -> spine -> XHTML text.

Reading order is the spine's, never the manifest's (which is in no particular order). EPUB has no
pages, so a segment is cited by its spine item (the manifest href); long items are split into
blocks of whole paragraphs. Each spine item with text is one section, titled from its first
heading, else its <title>, else its href. Font obfuscation (in encryption.xml) is harmless; a spine
item listed as encrypted means DRM, which we cannot and do not read.

Every member is read through caps (`limits`): a zip bomb is refused before it inflates. A spine
item that is missing, damaged, too large or not text is skipped and reported in `Document.skipped`;
the book fails only when no item gives text.
"""

from __future__ import annotations

import io
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import unquote

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.clean import clean_text
from minimax_cli.sources.decoding import decode
from minimax_cli.sources.document import Document, Locator, Section, Segment, Skipped
from minimax_cli.sources.limits import EPUB_INFLATED_BYTES, EPUB_MEMBER_BYTES, TooLarge, read_at_most, size_text
from minimax_cli.sources.text import MAX_BLOCK_CHARS

XHTML_TYPES = {"application/xhtml+xml", "text/html"}
BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "nav", "ol", "p", "pre",
    "section", "table", "td", "th", "tr", "ul",
}  # fmt: skip
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
DROPPED_TAGS = {"script", "style", "svg", "math"}
WHITESPACE = re.compile(r"\s+")
MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError)  # a damaged member


def load_epub(data: bytes, path: str, sha256: str) -> Document:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise MinimaxError(ErrorCode.CORRUPT, "corrupt EPUB: not a zip archive", path) from None
    try:
        return _read_book(_Archive(archive, path), path, sha256)
    except (KeyError, ET.ParseError, *MEMBER_ERRORS) as e:
        raise MinimaxError(ErrorCode.CORRUPT, f"corrupt EPUB: {_one_line(e)}", path) from None
    except _MemberTooLarge as e:
        raise MinimaxError(ErrorCode.TOO_LARGE, f"{e.member}: {e.describe()} once inflated", path) from None
    finally:
        archive.close()


class _MemberTooLarge(TooLarge):
    def __init__(self, member: str, size: int | None):
        super().__init__(size, EPUB_MEMBER_BYTES)
        self.member = member


class _Archive:
    """The zip, read through caps on every member and on all members together: a member's
    declared size is checked first, and the bytes actually inflated are counted (the declared size
    can lie; zipfile's reader also stops at it)."""

    def __init__(self, archive: zipfile.ZipFile, path: str):
        self.archive, self.path, self.inflated = archive, path, 0

    def read(self, member: str) -> bytes:
        info = self.archive.getinfo(member)  # KeyError when the archive lacks it
        if info.file_size > EPUB_MEMBER_BYTES:
            raise _MemberTooLarge(member, info.file_size)
        with self.archive.open(info) as f:
            data = read_at_most(f, EPUB_MEMBER_BYTES)
        if data is None:
            raise _MemberTooLarge(member, None)
        self.inflated += len(data)
        if self.inflated > EPUB_INFLATED_BYTES:
            message = f"its members inflate to more than {size_text(EPUB_INFLATED_BYTES)}, the limit for a book"
            raise MinimaxError(ErrorCode.TOO_LARGE, message, self.path)
        return data


def _read_book(book: _Archive, path: str, sha256: str) -> Document:
    container = ET.fromstring(book.read("META-INF/container.xml"))
    rootfile = next((e.get("full-path") for e in container.iter() if _local(e.tag) == "rootfile"), None)
    if not rootfile:
        raise KeyError("container.xml names no package document")
    opf = ET.fromstring(book.read(rootfile))
    opf_dir = posixpath.dirname(rootfile)

    manifest = {
        item.get("id"): (item.get("href", ""), item.get("media-type", ""))
        for item in opf.iter()
        if _local(item.tag) == "item"
    }
    skipped: list[Skipped] = []
    documents = []  # (href as the book names it, path in the archive)
    for ref in opf.iter():
        if _local(ref.tag) != "itemref":
            continue
        idref = ref.get("idref", "")
        if idref not in manifest:
            skipped.append(Skipped(clean_text(idref), "missing", "the spine names an item the manifest lacks"))
        elif manifest[idref][1] in XHTML_TYPES:
            href = manifest[idref][0]
            documents.append((href, posixpath.normpath(posixpath.join(opf_dir, unquote(href)))))

    encrypted = _encrypted_paths(book) & {member for _, member in documents}
    if encrypted:
        message = f"encrypted (DRM): {len(encrypted)} of its {len(documents)} text documents cannot be read"
        raise MinimaxError(ErrorCode.ENCRYPTED, message, path)

    segments: list[Segment] = []
    sections: list[Section] = []
    for href, member in documents:
        text = _spine_text(book, href, member, skipped)
        if text is None:
            continue
        parsed = _XhtmlText()
        parsed.feed(text)
        parsed.close()
        blocks = _paragraph_blocks(parsed.paragraphs)
        if blocks:
            title = parsed.heading or parsed.title or href
            sections.append(Section(clean_text(title), len(segments), len(segments) + len(blocks)))
            segments += [Segment(clean_text(block), Locator(path, item=clean_text(href))) for block in blocks]
    if not segments:
        raise _nothing_readable(documents, skipped, path)

    dc_titles = (e.text.strip() for e in opf.iter() if _local(e.tag) == "title" and e.text)
    return Document(
        path=path,
        kind="epub",
        segments=segments,
        sha256=sha256,
        sections=sections,
        skipped=skipped,
        title=next(filter(None, dc_titles), None),
    )


def _spine_text(book: _Archive, href: str, member: str, skipped: list[Skipped]) -> str | None:
    """The decoded XHTML of one spine item, or None after recording why it is skipped: a broken or
    missing item costs that item, not the book."""

    def skip(reason: str, detail: str) -> None:
        skipped.append(Skipped(clean_text(href), reason, detail))

    try:
        decoded = decode(book.read(member))
    except KeyError:
        return skip("missing", "in the spine but not in the archive")
    except _MemberTooLarge as e:
        return skip("too_large", f"{e.describe()} once inflated")
    except MEMBER_ERRORS as e:
        return skip("corrupt", _one_line(e))
    if decoded.text is None:
        return skip(decoded.code.value, decoded.reason)
    return decoded.text


def _nothing_readable(documents: list, skipped: list[Skipped], path: str) -> MinimaxError:
    """The error for a book without a segment: why its spine items gave no text."""
    if not skipped:
        return MinimaxError(ErrorCode.EMPTY, f"no text in any of its {len(documents)} spine documents", path)
    reasons = Counter(s.reason for s in skipped)
    code = ErrorCode.TOO_LARGE if "too_large" in reasons else ErrorCode.CORRUPT
    counts = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
    return MinimaxError(code, f"no readable text: {len(skipped)} spine items skipped ({counts})", path)


def _encrypted_paths(book: _Archive) -> set[str]:
    """Archive paths that META-INF/encryption.xml lists as encrypted (URIs are from the root)."""
    try:
        encryption = ET.fromstring(book.read("META-INF/encryption.xml"))
    except KeyError:
        return set()
    return {
        posixpath.normpath(unquote(ref.get("URI", "")))
        for ref in encryption.iter()
        if _local(ref.tag) == "CipherReference"
    }


def _paragraph_blocks(paragraphs: list[str]) -> list[str]:
    """Paragraphs joined into blocks of at most MAX_BLOCK_CHARS (a longer paragraph stands alone)."""
    blocks: list[str] = []
    for paragraph in paragraphs:
        if blocks and len(blocks[-1]) + 2 + len(paragraph) <= MAX_BLOCK_CHARS:
            blocks[-1] += "\n\n" + paragraph
        else:
            blocks.append(paragraph)
    return blocks


def _local(tag: str) -> str:
    """An element's name without its namespace: EPUBs in the wild are loose about namespaces."""
    return tag.rsplit("}", 1)[-1]


def _one_line(error: Exception) -> str:
    message = error.args[0] if isinstance(error, KeyError) and error.args else error  # no repr quotes
    return " ".join(str(message).split()) or type(error).__name__


class _XhtmlText(HTMLParser):
    """Paragraphs of text from XHTML, plus the first heading and the <title>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.heading: str | None = None
        self.title: str | None = None
        self._parts: list[str] = []
        self._dropped = 0  # depth inside script/style/...
        self._pre = 0
        self._in_title = False
        self._heading_parts: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in DROPPED_TAGS:
            self._dropped += 1
        elif tag == "title":
            self._in_title = True
        elif tag in BLOCK_TAGS:
            self._flush()
            self._pre += tag == "pre"
            if tag in HEADINGS and self.heading is None:
                self._heading_parts = []

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in BLOCK_TAGS:  # <br/>, <hr/>: no end tag follows
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in DROPPED_TAGS:
            self._dropped = max(0, self._dropped - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in BLOCK_TAGS:
            self._flush()
            self._pre = max(0, self._pre - (tag == "pre"))
            if tag in HEADINGS and self._heading_parts is not None:
                self.heading = " ".join("".join(self._heading_parts).split()) or None
                self._heading_parts = None

    def handle_data(self, data: str) -> None:
        if self._dropped:
            return
        if self._in_title:
            self.title = " ".join(((self.title or "") + data).split()) or None
        else:
            self._parts.append(data)
            if self._heading_parts is not None:
                self._heading_parts.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        text = "".join(self._parts)
        self._parts = []
        text = text.strip("\n") if self._pre else WHITESPACE.sub(" ", text).strip()
        if text.strip():
            self.paragraphs.append(text)
