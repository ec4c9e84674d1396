"""Hand-made PDFs and EPUBs for the source tests: exactly the structure each test needs."""

from __future__ import annotations

import zipfile
from pathlib import Path


def build_pdf(contents: list[bytes], resources: bytes = b"<< >>", extra: list[bytes] = ()) -> bytes:
    """A minimal PDF: one page per content stream, all sharing `resources`; `extra` objects are
    numbered from 3 on, so `resources` can refer to them ("3 0 R")."""
    count = len(contents)
    first_page = 3 + len(extra)
    page_ids = [first_page + 2 * i for i in range(count)]
    kids = b" ".join(b"%d 0 R" % p for p in page_ids)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count)]
    objects += list(extra)
    for page_id, content in zip(page_ids, contents):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources %s /Contents %d 0 R >>"
            % (resources, page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def image_xobject() -> bytes:
    """A 2x2 grey image, as a PDF stream object body."""
    pixels = b"\x00\xff\xff\x00"
    header = b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray"
    return header + b" /BitsPerComponent 8 /Length %d >>\nstream\n%s\nendstream" % (len(pixels), pixels)


CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""


def xhtml(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        f"<head><title>{title}</title><style>p {{ margin: 0 }}</style></head><body>{body}</body></html>"
    )


def write_epub(
    path: Path,
    chapters: dict[str, str],
    spine: list[str],
    *,
    title: str = "A Test Book",
    encryption: str | None = None,
) -> Path:
    """An EPUB whose manifest lists `chapters` (href -> XHTML) in dict order, read in `spine` order."""
    ids = {href: f"item{n}" for n, href in enumerate(chapters)}
    manifest = "".join(
        f'<item id="{ids[href]}" href="{href}" media-type="application/xhtml+xml"/>' for href in chapters
    )
    itemrefs = "".join(f'<itemref idref="{ids[href]}"/>' for href in spine)
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title></metadata>'
        f"<manifest>{manifest}</manifest><spine>{itemrefs}</spine></package>"
    )
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr("META-INF/container.xml", CONTAINER)
        if encryption is not None:
            book.writestr("META-INF/encryption.xml", encryption)
        book.writestr("OEBPS/content.opf", opf)
        for href, text in chapters.items():
            book.writestr(f"OEBPS/{href}", text)
    return path
