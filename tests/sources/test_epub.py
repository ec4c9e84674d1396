"""EPUB: spine order, text and titles from XHTML, DRM and broken archives."""

from __future__ import annotations

import zipfile

from minimax_cli.errors import ErrorCode
from minimax_cli.sources import load_document
from tests.sources.builders import write_epub, xhtml

CHAPTERS = {  # manifest order: the appendix and chapter 2 come before chapter 1
    "text/appendix.xhtml": xhtml("Appendix", "<h1>Appendix</h1><p>Tide tables.</p>"),
    "text/ch2.xhtml": xhtml("Two", "<h2>The <em>Wharf</em></h2><p>Boats&amp;nets.</p><p>Second<br/>line.</p>"),
    "text/ch1.xhtml": xhtml(
        "One",
        "<div><p>No heading here,\n   only   text.</p><script>var x = 'hidden';</script>"
        "<pre>  kept\n    as is</pre></div>",
    ),
}
SPINE = ["text/ch1.xhtml", "text/ch2.xhtml", "text/appendix.xhtml"]


def test_spine_order_text_and_titles(tmp_path):
    path = write_epub(tmp_path / "book.epub", CHAPTERS, SPINE, title="Harbour Stories")
    doc = load_document(str(path))
    assert doc.kind == "epub" and doc.title == "Harbour Stories"
    assert [s.locator.item for s in doc.segments] == SPINE
    assert [s.title for s in doc.sections] == ["One", "The Wharf", "Appendix"]
    one, two, appendix = (s.text for s in doc.segments)
    assert one == "No heading here, only text.\n\n  kept\n    as is"
    assert "hidden" not in doc.text and "margin" not in doc.text
    assert two == "The Wharf\n\nBoats&nets.\n\nSecond\n\nline."
    assert str(doc.segments[2].locator) == f"{path}#text/appendix.xhtml"


def test_long_item_is_split_at_paragraphs(tmp_path):
    body = "".join(f"<p>Paragraph {i}: " + "words " * 80 + "</p>" for i in range(40))
    path = write_epub(tmp_path / "long.epub", {"long.xhtml": xhtml("Long", body)}, ["long.xhtml"])
    doc = load_document(str(path))
    assert len(doc.segments) > 3
    assert all(len(s.text) <= 4000 and s.locator.item == "long.xhtml" for s in doc.segments)
    assert doc.segments[1].text.startswith("Paragraph ")
    assert [(s.start, s.end) for s in doc.sections] == [(0, len(doc.segments))]


ENCRYPTION = """<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
            xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
  <enc:EncryptedData>
    <enc:EncryptionMethod Algorithm="{algorithm}"/>
    <enc:CipherData><enc:CipherReference URI="{uri}"/></enc:CipherData>
  </enc:EncryptedData>
</encryption>"""


def test_drm_encrypted_chapter(tmp_path, load_error):
    encryption = ENCRYPTION.format(algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc", uri="OEBPS/text/ch2.xhtml")
    path = write_epub(tmp_path / "drm.epub", CHAPTERS, SPINE, encryption=encryption)
    load_error(path, ErrorCode.ENCRYPTED)


def test_obfuscated_font_is_not_drm(tmp_path):
    encryption = ENCRYPTION.format(algorithm="http://www.idpf.org/2008/embedding", uri="OEBPS/fonts/serif.otf")
    path = write_epub(tmp_path / "fonts.epub", CHAPTERS, SPINE, encryption=encryption)
    assert len(load_document(str(path)).segments) == 3


def test_not_a_zip_is_corrupt(tmp_path, load_error):
    path = tmp_path / "broken.epub"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    load_error(path, ErrorCode.CORRUPT)


def test_missing_container_is_corrupt(tmp_path, load_error):
    path = tmp_path / "bare.epub"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
    error = load_error(path, ErrorCode.CORRUPT)
    assert "container.xml" in error.message


def test_epub_without_text_is_empty(tmp_path, load_error):
    path = write_epub(tmp_path / "cover.epub", {"cover.xhtml": xhtml("Cover", "<img src='c.jpg'/>")}, ["cover.xhtml"])
    load_error(path, ErrorCode.EMPTY)
