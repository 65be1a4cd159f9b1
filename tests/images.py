"""Photos built byte by byte for the tests: a real 1×1 JPEG and PNG, EXIF with a GPS position,
XMP, IPTC, comments and PNG text chunks."""
from __future__ import annotations

import base64
import struct
import zlib

# A real 1×1 JPEG (the one the chat simulator sends): SOI, APP0 JFIF, DQT, SOF0, DHT ×2, SOS, data, EOI.
TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/"
    "wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==")
JFIF = TINY_JPEG[2:20]  # FFE0, length 16, "JFIF\0" ...
BODY = TINY_JPEG[20:]  # from DQT to EOI: the picture

MAKE = b"HuaPhone P40 SN-8823-4410\x00"
LATITUDE = (26, 1, 54, 1, 1234, 100)  # 26° 54' 12.34" N
LONGITUDE = (112, 1, 33, 1, 567, 100)  # 112° 33' 5.67" E
GPS_BYTES = struct.pack(">6I", *LATITUDE)


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def exif(orientation: int | None = None, little_endian: bool = False) -> bytes:
    """An APP1 Exif segment: IFD0 with the phone's make (and an orientation) and a GPS IFD."""
    e = "<" if little_endian else ">"
    entries0 = 2 + (orientation is not None)
    ifd0_end = 8 + 2 + 12 * entries0 + 4
    make_at = ifd0_end
    gps_at = make_at + len(MAKE)
    gps_end = gps_at + 2 + 12 * 4 + 4
    lat_at, lng_at = gps_end, gps_end + 24
    ifd0 = [struct.pack(e + "HHII", 0x010F, 2, len(MAKE), make_at)]
    if orientation is not None:
        ifd0.append(struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0))
    ifd0.append(struct.pack(e + "HHII", 0x8825, 4, 1, gps_at))
    gps = [struct.pack(e + "HHI4s", 0x0001, 2, 2, b"N\x00\x00\x00"), struct.pack(e + "HHII", 0x0002, 5, 3, lat_at),
           struct.pack(e + "HHI4s", 0x0003, 2, 2, b"E\x00\x00\x00"), struct.pack(e + "HHII", 0x0004, 5, 3, lng_at)]
    tiff = ((b"II" if little_endian else b"MM") + struct.pack(e + "HI", 42, 8)
            + struct.pack(e + "H", entries0) + b"".join(ifd0) + struct.pack(e + "I", 0)
            + MAKE
            + struct.pack(e + "H", 4) + b"".join(gps) + struct.pack(e + "I", 0)
            + struct.pack(e + "6I", *LATITUDE) + struct.pack(e + "6I", *LONGITUDE))
    return segment(0xE1, b"Exif\x00\x00" + tiff)


XMP = segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><rdf:Description exif:GPSLatitude=\"26,54.2N\" "
                    b"tiff:Model=\"HuaPhone P40\"/></x:xmpmeta>")
IPTC = segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0c\x1c\x02\x5a\x00\x06Baisha")
COMMENT = segment(0xFE, b"taken by HuaPhone at Baisha village")
ICC = segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + b"\x00\x00\x02\x0cFAKEPROFILE")
MPF = segment(0xE2, b"MPF\x00II*\x00\x08\x00\x00\x00")
ADOBE = segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")


def jpeg_with(*segments: bytes, after: bytes = b"") -> bytes:
    """TINY_JPEG with `segments` after its APP0 and `after` following its end."""
    return TINY_JPEG[:2] + JFIF + b"".join(segments) + BODY + after


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IHDR = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))  # 1×1, 8-bit RGB
IDAT = chunk(b"IDAT", zlib.compress(b"\x00\xc0\x30\x30"))  # one reddish pixel
IEND = chunk(b"IEND", b"")
TINY_PNG = PNG_SIGNATURE + IHDR + IDAT + IEND
