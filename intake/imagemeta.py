"""A photo loses what it says about the person who took it before it is stored: EXIF (the GPS
position, the time, the phone's make and serial numbers), XMP, IPTC, comments and text.

Losslessly: the file's structure is read and its pieces copied, the picture is never decoded.

- JPEG (by its first bytes, whatever the content type says): kept byte for byte are APP0
  (JFIF), APP2 ICC_PROFILE, APP14 Adobe (how the colours are stored) and every segment that
  is not an APPn or a comment (tables, frame, scans and their data); dropped are every other
  APPn (APP1 Exif and XMP, APP13 IPTC/Photoshop, APP2 MPF, makers' own) and COM, and what
  follows the end of the image (MPF's second pictures, a motion photo's video). An EXIF
  orientation other than "upright" is kept, alone in a minimal Exif segment in the old one's
  place, so that a phone's portrait photo is not shown lying on its side.
- PNG: kept are the critical chunks and the ancillary ones that change how the picture looks
  (transparency, colour, gamma, pixel size, animation); dropped are eXIf, tEXt, iTXt, zTXt,
  tIME and every other chunk, and what follows IEND.
- Anything else (voice, GIF, ...) is left as it came.

Nothing is refused: where a file's structure breaks (truncated, not what its first bytes
promised), what was read before the break is cleaned and the rest kept as it came; `problem`
says where, in words that contain nothing of the file.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cleaned:
    content: bytes
    format: str | None  # "jpeg", "png", or None: not a format we clean, left as it came
    removed: tuple[str, ...] = ()  # what was dropped, by kind ("APP1 Exif", "tEXt", ...)
    problem: str | None = None  # where the structure broke (the rest was kept as it came)


def strip_metadata(content: bytes) -> Cleaned:
    if content.startswith(JPEG_MAGIC):
        return _clean("jpeg", _jpeg_pieces, content)
    if content.startswith(PNG_SIGNATURE):
        return _clean("png", _png_pieces, content)
    return Cleaned(content, None)


class _Broken(Exception):
    def __init__(self, at: int, why: str):
        super().__init__(f"{why} at byte {at}")
        self.at = at


def _clean(fmt: str, pieces, content: bytes) -> Cleaned:
    """Run a format's reader: it yields (start, end, keep, name, replacement) for each piece
    from the first byte on, and raises _Broken where it cannot go on."""
    out: list[bytes] = []
    removed: list[str] = []
    problem = None
    try:
        for start, end, keep, name, replacement in pieces(content):
            if keep:
                out.append(content[start:end])
            else:
                removed.append(name)
                if replacement:
                    out.append(replacement)
    except _Broken as broken:
        out.append(content[broken.at:])
        problem = f"{fmt}: {broken}" + ("; the rest was kept as it came" if broken.at < len(content) else "")
    return Cleaned(b"".join(out), fmt, tuple(removed), problem)


# --- JPEG -------------------------------------------------------------------------------------

JPEG_MAGIC = b"\xff\xd8\xff"
EOI, SOS, APP0, APP1, APP2, APP14, COM = 0xD9, 0xDA, 0xE0, 0xE1, 0xE2, 0xEE, 0xFE
NO_LENGTH = {0x01, *range(0xD0, 0xD8)}  # TEM and RST0-7 stand alone
KEPT_APPS = {APP0: b"", APP2: b"ICC_PROFILE\x00", APP14: b"Adobe"}  # marker: what its data starts with
EXIF = b"Exif\x00\x00"
ORIENTATION_TAG, SHORT = 0x0112, 3


def _jpeg_pieces(data: bytes):
    yield 0, 2, True, "SOI", None
    pos, n, orientation_kept = 2, len(data), False
    while True:
        start = pos
        if pos >= n:
            raise _Broken(pos, "no end-of-image marker")
        if data[pos] != 0xFF:
            raise _Broken(pos, "no marker")
        while pos < n and data[pos] == 0xFF:  # a marker may be preceded by fill bytes 0xFF
            pos += 1
        if pos >= n:
            raise _Broken(start, "a marker cut short")
        marker = data[pos]
        pos += 1
        if marker == EOI:
            yield start, pos, True, "EOI", None
            if pos < n:
                yield pos, n, False, "data after the end of the image", None
            return
        if marker in NO_LENGTH:
            yield start, pos, True, "RST", None
            continue
        if pos + 2 > n:
            raise _Broken(start, f"segment {marker:#04x} cut short")
        end = pos + int.from_bytes(data[pos:pos + 2], "big")
        if end < pos + 2 or end > n:
            raise _Broken(start, f"segment {marker:#04x} longer than the file")
        payload = data[pos + 2:end]
        if marker in KEPT_APPS and payload.startswith(KEPT_APPS[marker]):
            yield start, end, True, "APP", None
        elif 0xE0 <= marker <= 0xEF or marker == COM:
            name = "COM" if marker == COM else f"APP{marker - 0xE0}" + (
                " Exif" if payload.startswith(EXIF) else " XMP" if b"ns.adobe.com/xap" in payload[:64] else "")
            replacement = None
            if marker == APP1 and payload.startswith(EXIF) and not orientation_kept:
                orientation = exif_orientation(payload[len(EXIF):])
                if orientation not in (None, 1):
                    replacement, orientation_kept = orientation_segment(orientation), True
                    name += " (its orientation kept)"
            yield start, end, False, name, replacement
        else:
            yield start, end, True, f"{marker:#04x}", None
        pos = end
        if marker == SOS:  # the scan's entropy-coded data runs up to the next marker
            scan_end = _scan_end(data, pos)
            yield pos, scan_end, True, "scan data", None
            pos = scan_end


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at `pos` ends: at the first 0xFF that is neither a
    stuffed 0xFF00, a restart marker nor a fill byte before a marker; the file's end if none."""
    n = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= n:
            return n
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos += 2
        elif following == 0xFF:
            pos += 1
        else:
            return pos


def exif_orientation(tiff: bytes) -> int | None:
    """The Orientation tag (1-8) of IFD0 in EXIF's TIFF structure, None if absent or unreadable."""
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None or len(tiff) < 8 or int.from_bytes(tiff[2:4], order) != 42:
        return None
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return None
    for k in range(int.from_bytes(tiff[ifd:ifd + 2], order)):
        entry = tiff[ifd + 2 + 12 * k:ifd + 14 + 12 * k]
        if len(entry) < 12:
            return None
        if int.from_bytes(entry[0:2], order) == ORIENTATION_TAG:
            kind, count = int.from_bytes(entry[2:4], order), int.from_bytes(entry[4:8], order)
            value = int.from_bytes(entry[8:10], order)
            return value if kind == SHORT and count == 1 and 1 <= value <= 8 else None
    return None


def orientation_segment(orientation: int) -> bytes:
    """An APP1 Exif segment holding the Orientation tag and nothing else (big-endian TIFF)."""
    tiff = (b"MM\x00\x2a" + (8).to_bytes(4, "big")  # header; IFD0 right after it
            + (1).to_bytes(2, "big")  # one entry
            + ORIENTATION_TAG.to_bytes(2, "big") + SHORT.to_bytes(2, "big") + (1).to_bytes(4, "big")
            + orientation.to_bytes(2, "big") + b"\x00\x00"
            + (0).to_bytes(4, "big"))  # no next IFD
    payload = EXIF + tiff
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


# --- PNG --------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ancillary chunks that change how the picture looks (PNG 3rd edition names, and their older
# spellings); critical chunks (upper-case first letter) are always kept.
PNG_KEPT = {b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD", b"pHYs", b"hIST", b"sPLT",
            b"cICP", b"mDCV", b"cLLI", b"mDCv", b"cLLi", b"acTL", b"fcTL", b"fdAT"}


def _png_pieces(data: bytes):
    yield 0, len(PNG_SIGNATURE), True, "signature", None
    pos, n = len(PNG_SIGNATURE), len(data)
    while True:
        if pos + 12 > n:
            raise _Broken(pos, "no IEND chunk" if pos == n else "a chunk cut short")
        end = pos + 12 + int.from_bytes(data[pos:pos + 4], "big")  # length, type, data, CRC
        kind = data[pos + 4:pos + 8]
        if end > n or not kind.isalpha():
            raise _Broken(pos, "a chunk longer than the file" if end > n else "a chunk without a type")
        critical = kind[0:1].isupper()
        yield pos, end, critical or kind in PNG_KEPT, kind.decode("ascii"), None
        pos = end
        if kind == b"IEND":
            if pos < n:
                yield pos, n, False, "data after IEND", None
            return
