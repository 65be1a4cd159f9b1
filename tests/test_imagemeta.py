"""Photos are stored without what they say about the person who took them (EXIF GPS, the phone,
XMP, IPTC, comments, text chunks), and with the picture's bytes unchanged."""
from __future__ import annotations

import base64
import hashlib
import logging

import requests
import sqlalchemy as sa

from core.models import Attachment, Case
from intake.imagemeta import strip_metadata
from tests.images import (ADOBE, BODY, COMMENT, GPS_BYTES, ICC, IDAT, IEND, IHDR, IPTC, JFIF, MAKE, MPF,
                          PNG_SIGNATURE, TINY_JPEG, TINY_PNG, XMP, chunk, exif, jpeg_with, segment)
from tests.replies import tracking_no


def test_a_citizens_photo_is_stored_without_its_exif(citizen, db, run_jobs, fake_wechat, settings, draft_of):
    """Through the whole path: WeChat serves a phone photo with a GPS position, the citizen
    sends it, the download job stores it with the draft, the case gets a copy."""
    photo = jpeg_with(exif(), XMP)
    assert GPS_BYTES in photo and MAKE in photo and b"Exif" in photo
    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": "GPSPHOTO1", "content_type": "image/jpeg",
                                                      "data_b64": base64.b64encode(photo).decode()}, timeout=5)
    citizen.scan("G1-baisha")
    assert citizen.image("GPSPHOTO1").startswith("已记录图片。")
    run_jobs()
    assert (settings.media_dir / draft_of(citizen).content[0].file).read_bytes() == TINY_JPEG
    number = tracking_no(citizen.say("提交"))
    run_jobs()
    db.expire_all()
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    att = db.scalar(sa.select(Attachment).where(Attachment.case_id == case.id, Attachment.kind == "image"))
    assert att.status == "stored", att.last_error
    stored = (settings.media_dir / att.storage_path).read_bytes()
    assert stored == TINY_JPEG  # the picture byte for byte, its APP0 JFIF, nothing else
    assert b"Exif" not in stored and GPS_BYTES not in stored and b"HuaPhone" not in stored
    # What the row says is the stored file's.
    assert (att.size, att.sha256) == (len(stored), hashlib.sha256(stored).hexdigest())
    assert att.storage_path.endswith(hashlib.sha256(stored).hexdigest() + ".jpg")


def test_jpeg_keeps_the_picture_and_drops_every_kind_of_metadata():
    photo = jpeg_with(exif(), XMP, ICC, IPTC, MPF, ADOBE, COMMENT, after=b"ftypmp4 a motion photo's video")
    cleaned = strip_metadata(photo)
    assert cleaned.content == TINY_JPEG[:2] + JFIF + ICC + ADOBE + BODY  # ICC and Adobe shape the colours
    assert cleaned.format == "jpeg" and cleaned.problem is None
    assert cleaned.removed == ("APP1 Exif", "APP1 XMP", "APP13", "APP2", "COM", "data after the end of the image")


def test_jpeg_orientation_is_kept_alone():
    """A phone's portrait photo says "rotate" in EXIF: that stays, in a minimal Exif segment;
    the GPS position and the phone do not."""
    for little_endian in (False, True):
        cleaned = strip_metadata(jpeg_with(exif(orientation=6, little_endian=little_endian)))
        upright = segment(0xE1, b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01"
                                b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
        assert cleaned.content == TINY_JPEG[:2] + JFIF + upright + BODY
        assert cleaned.removed == ("APP1 Exif (its orientation kept)",)
    # Upright already (1) or no orientation: no Exif at all.
    assert strip_metadata(jpeg_with(exif(orientation=1))).content == TINY_JPEG
    assert strip_metadata(jpeg_with(exif())).content == TINY_JPEG


def test_jpeg_scan_data_is_copied_whatever_bytes_it_holds():
    """Entropy-coded data may hold 0xFF00 (a stuffed byte), restart markers and fill bytes;
    metadata between the scans of a progressive JPEG goes too."""
    header = TINY_JPEG[:2] + JFIF + BODY[:BODY.index(b"\xff\xda")]
    sos = BODY[BODY.index(b"\xff\xda"):BODY.index(b"\xff\xda") + 10]
    scan1 = b"\x12\xff\x00\x34\xff\xd0\x56\xff\xd1\xff\x00"
    scan2 = b"\x9a\xff\x00\xbc"
    photo = header + exif() + sos + scan1 + COMMENT + sos + scan2 + b"\xff\xff\xd9"
    cleaned = strip_metadata(photo)
    assert cleaned.content == header + sos + scan1 + sos + scan2 + b"\xff\xff\xd9"
    assert cleaned.removed == ("APP1 Exif", "COM") and cleaned.problem is None


def test_a_broken_jpeg_is_kept_from_where_it_breaks():
    truncated = jpeg_with(exif())[:-2]  # a download cut short in the picture data: no end of image
    cleaned = strip_metadata(truncated)
    assert cleaned.content == TINY_JPEG[:-2] and GPS_BYTES not in cleaned.content
    assert cleaned.problem == f"jpeg: no end-of-image marker at byte {len(truncated)}"  # at the file's end
    # A segment longer than the file: from there on, everything is kept as it came.
    broken = TINY_JPEG[:2] + JFIF + COMMENT + b"\xff\xe1\x7f\xff" + b"Exif\x00\x00" + GPS_BYTES
    cleaned = strip_metadata(broken)
    assert cleaned.content == TINY_JPEG[:2] + JFIF + b"\xff\xe1\x7f\xff" + b"Exif\x00\x00" + GPS_BYTES
    assert cleaned.problem == (f"jpeg: segment 0xe1 longer than the file at byte {len(TINY_JPEG[:2] + JFIF + COMMENT)}; "
                               "the rest was kept as it came")
    # What only starts like a JPEG, or is none: as it came.
    for content in (b"\xff\xd8jpeg", b"#!AMR voice", b"GIF89a\x01\x00", b""):
        cleaned = strip_metadata(content)
        assert cleaned.content == content and cleaned.format is None and cleaned.removed == ()


def test_png_drops_text_exif_and_time_chunks():
    itxt = chunk(b"iTXt", b"Location\x00\x00\x00\x00\x00Baisha 26.9N 112.55E")
    metadata = [chunk(b"tEXt", b"Author\x00Zhang San"), chunk(b"zTXt", b"Comment\x00\x00x\x9c+I-.\x01\x00\x04]\x01\xc1"),
                itxt, chunk(b"eXIf", exif()[10:]), chunk(b"tIME", b"\x07\xea\x0c\x02\x0a\x00\x00"),
                chunk(b"caBX", b"c2pa manifest")]
    kept = [chunk(b"iCCP", b"sRGB\x00\x00x\x9c\x03\x00\x00\x00\x00\x01"), chunk(b"pHYs", b"\x00\x00\x0b\x13" * 2 + b"\x01"),
            chunk(b"gAMA", b"\x00\x00\xb1\x8f")]
    png = PNG_SIGNATURE + IHDR + metadata[0] + kept[0] + metadata[1] + kept[1] + kept[2] + IDAT + itxt \
        + b"".join(metadata[3:]) + IEND + b"trailing bytes"
    cleaned = strip_metadata(png)
    assert cleaned.content == PNG_SIGNATURE + IHDR + b"".join(kept) + IDAT + IEND
    assert cleaned.removed == ("tEXt", "zTXt", "iTXt", "eXIf", "tIME", "caBX", "data after IEND")
    assert strip_metadata(TINY_PNG).content == TINY_PNG
    truncated = PNG_SIGNATURE + IHDR + metadata[0] + IDAT[:-3]
    cleaned = strip_metadata(truncated)
    assert cleaned.content == PNG_SIGNATURE + IHDR + IDAT[:-3] and "the rest was kept as it came" in cleaned.problem


def test_download_logs_what_it_removed_and_never_the_content(app, caplog):
    from intake import jobs

    class Api:
        def __init__(self, content):
            self.content = content

        def download_media(self, media_id):
            from core.wechat_api import Media

            return Media(self.content, "image/jpeg", None)

    with app.app_context():
        from core.app import database

        from intake.cases import NewCase, open_case

        with database().session() as s:
            case = open_case(s, NewCase(channel="visit", texts=["来访反映的照片"]), app.extensions["vault"],
                             app.extensions["jobs"]).case
            ids = []
            for media_id in ("LOG1", "LOG2"):
                att = Attachment(case_id=case.id, kind="image", media_id=media_id, status="pending")
                s.add(att)
                s.flush()
                ids.append(att.id)
            s.commit()
        caplog.set_level(logging.INFO, logger="intake.jobs")
        for att_id, content in zip(ids, (jpeg_with(exif()), TINY_JPEG[:2] + JFIF + b"\xff\xfe\x7f\xff" + MAKE)):
            app.extensions["wechat_api"] = Api(content)
            jobs.download_media(att_id)
        app.extensions.pop("wechat_api")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"attachment {ids[0]}: removed APP1 Exif" in text
    assert f"attachment {ids[1]}: jpeg: segment 0xfe longer than the file at byte 20" in text
    assert b"HuaPhone".decode() not in text and "Exif\x00" not in text
