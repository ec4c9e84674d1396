"""EPUB: zip bombs (honest and lying sizes), missing and broken spine items, entity bombs."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from minimax_cli.errors import ErrorCode
from minimax_cli.sources import epub, load_document
from minimax_cli.sources.limits import EPUB_MEMBER_BYTES
from tests.hostile.conftest import assert_clean, reasons
from tests.sources.builders import xhtml

BOMB_BYTES = 200 << 20  # of NULs: about 200 KB once deflated
GOOD = xhtml("Good", "<h1>Harbour</h1><p>The boats came home at dusk.</p>").encode()


def opf(spine: list[str], manifest: dict[str, str]) -> str:
    xhtml_type = "application/xhtml+xml"
    items = "".join(f'<item id="{i}" href="{href}" media-type="{xhtml_type}"/>' for i, href in manifest.items())
    refs = "".join(f'<itemref idref="{i}"/>' for i in spine)
    return (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Hostile</dc:title></metadata>'
        f"<manifest>{items}</manifest><spine>{refs}</spine></package>"
    )


def container(rootfile: str) -> str:
    return (
        '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        f'<rootfiles><rootfile full-path="{rootfile}" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )


def with_container(base: bytes, rootfile: str, path: Path) -> Path:
    """`base` plus a container.xml naming `rootfile`, written to `path` (the base is not rewritten)."""
    buffer = io.BytesIO(base)
    with zipfile.ZipFile(buffer, "a") as book:
        book.writestr("META-INF/container.xml", container(rootfile))
    path.write_bytes(buffer.getvalue())
    return path


def book(path: Path, members: dict[str, bytes], spine: list[str], manifest: dict[str, str] | None = None) -> Path:
    """A small EPUB: `members` under OEBPS/, read in `spine` order (ids are the hrefs' stems)."""
    manifest = manifest or {Path(h).stem: h for h in spine}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("OEBPS/content.opf", opf([Path(h).stem for h in spine], manifest))
        for name, data in members.items():
            archive.writestr(f"OEBPS/{name}", data)
    return with_container(buffer.getvalue(), "OEBPS/content.opf", path)


@pytest.fixture(scope="session")
def bomb_base() -> bytes:
    """An archive with a 200 MiB NUL member, a good chapter, and two package documents: one
    reading only the bomb, one reading the bomb and then the good chapter. No container yet."""
    manifest = {"bomb": "bomb.xhtml", "good": "good.xhtml"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("OEBPS/bomb-only.opf", opf(["bomb"], manifest))
        archive.writestr("OEBPS/both.opf", opf(["bomb", "good"], manifest))
        archive.writestr("OEBPS/good.xhtml", GOOD)
        with archive.open("OEBPS/bomb.xhtml", "w") as member:
            chunk = bytes(1 << 20)
            for _ in range(BOMB_BYTES >> 20):
                member.write(chunk)
    data = buffer.getvalue()
    assert len(data) < 300_000
    return data


@pytest.fixture
def inflated(monkeypatch) -> list[int]:
    """The byte counts every zip member read returned, to show a cap stopped inflation early."""
    counts: list[int] = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = real_read(self, n)
        counts.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    return counts


def lie_about_size(data: bytes, name: bytes, size: int) -> bytes:
    """`data` with the central directory declaring `size` inflated bytes for member `name`."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        if out[at + 46 : at + 46 + len(name)] == name:
            struct.pack_into("<I", out, at + 24, size)
        at = out.find(b"PK\x01\x02", at + 1)
    return bytes(out)


def test_zip_bomb_is_refused_before_it_inflates(bomb_base, tmp_path, inflated, refused):
    path = with_container(bomb_base, "OEBPS/bomb-only.opf", tmp_path / "bomb.epub")
    assert path.stat().st_size < 300_000
    error = refused(path, ErrorCode.TOO_LARGE)
    assert "1 too_large" in error.message
    assert sum(inflated) < 1 << 20


def test_zip_bomb_member_is_skipped_and_the_rest_read(bomb_base, tmp_path, inflated):
    doc = load_document(str(with_container(bomb_base, "OEBPS/both.opf", tmp_path / "both.epub")))
    assert reasons(doc) == {"bomb.xhtml": "too_large"}
    assert doc.text == "Harbour\n\nThe boats came home at dusk."
    assert sum(inflated) < 1 << 20


def test_zip_bomb_with_a_lying_size_stops_at_the_cap(bomb_base, tmp_path, inflated, refused):
    lying = lie_about_size(bomb_base, b"OEBPS/bomb.xhtml", EPUB_MEMBER_BYTES - 1)
    path = with_container(lying, "OEBPS/bomb-only.opf", tmp_path / "lying.epub")
    refused(path, ErrorCode.CORRUPT)  # zipfile stops at the declared size; the CRC then fails
    assert sum(inflated) <= EPUB_MEMBER_BYTES + (1 << 20)


def test_whole_book_inflation_is_capped(tmp_path, monkeypatch, refused):
    monkeypatch.setattr(epub, "EPUB_INFLATED_BYTES", 600)
    chapters = {f"c{i}.xhtml": GOOD for i in range(5)}
    error = refused(book(tmp_path / "long.epub", chapters, list(chapters)), ErrorCode.TOO_LARGE)
    assert "inflate" in error.message


def test_missing_spine_item_is_skipped(tmp_path):
    path = book(tmp_path / "gap.epub", {"good.xhtml": GOOD}, ["lost.xhtml", "good.xhtml"])
    doc = load_document(str(path))
    assert reasons(doc) == {"lost.xhtml": "missing"} and "boats" in doc.text
    assert_clean(doc)


def test_only_missing_spine_items_is_corrupt(tmp_path, refused):
    path = book(tmp_path / "hollow.epub", {}, ["lost.xhtml", "gone.xhtml"])
    assert "2 missing" in refused(path, ErrorCode.CORRUPT).message


def test_spine_idref_the_manifest_lacks(tmp_path):
    path = book(tmp_path / "idref.epub", {"good.xhtml": GOOD}, ["good.xhtml"], {"good": "good.xhtml"})
    data = path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(buffer, "w") as new:
        for info in old.infolist():
            body = old.read(info)
            if info.filename.endswith(".opf"):
                body = body.replace(b"<spine>", b'<spine><itemref idref="ghost"/>')
            new.writestr(info, body)
    path.write_bytes(buffer.getvalue())
    assert reasons(load_document(str(path))) == {"ghost": "missing"}


def test_damaged_member_is_skipped(tmp_path):
    path = book(tmp_path / "crc.epub", {"bad.xhtml": GOOD * 20, "good.xhtml": GOOD}, ["bad.xhtml", "good.xhtml"])
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("OEBPS/bad.xhtml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 10] ^= 0xFF  # flip a byte of its deflate stream
    path.write_bytes(bytes(data))
    doc = load_document(str(path))
    assert reasons(doc) == {"bad.xhtml": "corrupt"} and "boats" in doc.text


def test_nul_and_utf16_spine_items(tmp_path):
    utf16 = b"\xff\xfe" + xhtml("Wide", "<p>Sixteen bits wide.</p>").encode("utf-16-le")
    members = {"nul.xhtml": GOOD + b"\0", "wide.xhtml": utf16}
    doc = load_document(str(book(tmp_path / "mixed.epub", members, ["nul.xhtml", "wide.xhtml"])))
    assert reasons(doc) == {"nul.xhtml": "binary"} and doc.text == "Sixteen bits wide."


def test_entity_expansion_bomb_in_the_package(tmp_path, refused):
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    laughs = f'<?xml version="1.0"?><!DOCTYPE package [{entities}]><package><metadata>&j;</metadata></package>'
    path = book(tmp_path / "laughs.epub", {}, [])
    buffer = io.BytesIO(path.read_bytes())
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("OEBPS/laughs.opf", laughs)
    base = buffer.getvalue()
    base = base.replace(b'full-path="OEBPS/content.opf"', b'full-path="OEBPS/laughs.opf"')
    path.write_bytes(base)
    refused(path, ErrorCode.CORRUPT)
