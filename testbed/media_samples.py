"""Hostile and ordinary image files, made here byte by byte (nothing downloaded).

The EXIF block is written by hand (a little-endian TIFF structure) so it can hold what
cameras and phones really put there: GPS coordinates, maker notes, a user comment and
an embedded JPEG thumbnail in IFD1 — each carrying a canary string the tests look for.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image

ASCII, SHORT, LONG, RATIONAL, UNDEFINED = 2, 3, 4, 5, 7
RED, BLUE = (220, 30, 30), (30, 30, 220)


def _ifd(entries: list[tuple[int, int, int, bytes]], start: int, next_ifd: int = 0) -> bytes:
    """One IFD at offset `start`, values that do not fit in 4 bytes right after it."""
    entries = sorted(entries)
    data_at = start + 2 + 12 * len(entries) + 4
    head, data = struct.pack("<H", len(entries)), b""
    for tag, kind, count, raw in entries:
        if len(raw) <= 4:
            head += struct.pack("<HHI", tag, kind, count) + raw.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, kind, count, data_at + len(data))
            data += raw + (b"\0" if len(raw) % 2 else b"")
    return head + struct.pack("<I", next_ifd) + data


def _ascii(text: str) -> tuple[int, bytes]:
    raw = text.encode() + b"\0"
    return len(raw), raw


def _rationals(*values: tuple[int, int]) -> bytes:
    return b"".join(struct.pack("<II", n, d) for n, d in values)


def exif_block(canary: str, *, orientation: int = 6) -> bytes:
    """APP1 payload: IFD0 (description, make, model, orientation), Exif IFD (maker note,
    user comment), GPS IFD (a position), IFD1 with an embedded JPEG thumbnail."""
    thumb = io.BytesIO()
    Image.new("RGB", (16, 8), (0, 200, 0)).save(thumb, "JPEG", comment=f"THUMB-{canary}".encode())
    thumbnail = thumb.getvalue()

    def ifd0(exif_at: int, gps_at: int, ifd1_at: int) -> bytes:
        n_desc, desc = _ascii(f"DESC-{canary}")
        n_make, make = _ascii(f"MAKE-{canary}")
        n_model, model = _ascii("PhoneModel 12")
        entries = [
            (0x010E, ASCII, n_desc, desc),
            (0x010F, ASCII, n_make, make),
            (0x0110, ASCII, n_model, model),
            (0x0112, SHORT, 1, struct.pack("<H", orientation)),
            (0x8769, LONG, 1, struct.pack("<I", exif_at)),
            (0x8825, LONG, 1, struct.pack("<I", gps_at)),
        ]
        return _ifd(entries, 8, ifd1_at)

    def exif_ifd(start: int) -> bytes:
        maker = f"MAKERNOTE-{canary}".encode()
        comment = b"ASCII\0\0\0" + f"COMMENT-{canary}".encode()
        return _ifd(
            [(0x927C, UNDEFINED, len(maker), maker), (0x9286, UNDEFINED, len(comment), comment)],
            start,
        )

    def gps_ifd(start: int) -> bytes:
        return _ifd(
            [
                (0x0001, ASCII, 2, b"N\0"),
                (0x0002, RATIONAL, 3, _rationals((48, 1), (51, 1), (2404, 100))),
                (0x0003, ASCII, 2, b"E\0"),
                (0x0004, RATIONAL, 3, _rationals((2, 1), (17, 1), (4020, 100))),
            ],
            start,
        )

    def ifd1(start: int, thumb_at: int) -> bytes:
        return _ifd(
            [
                (0x0201, LONG, 1, struct.pack("<I", thumb_at)),
                (0x0202, LONG, 1, struct.pack("<I", len(thumbnail))),
            ],
            start,
        )

    # Sizes do not depend on the offsets, so lay out once with zeros, then for real.
    exif_at = 8 + len(ifd0(0, 0, 0))
    gps_at = exif_at + len(exif_ifd(exif_at))
    ifd1_at = gps_at + len(gps_ifd(gps_at))
    thumb_at = ifd1_at + len(ifd1(ifd1_at, 0))
    tiff = (
        b"II*\0"
        + struct.pack("<I", 8)
        + ifd0(exif_at, gps_at, ifd1_at)
        + exif_ifd(exif_at)
        + gps_ifd(gps_at)
        + ifd1(ifd1_at, thumb_at)
        + thumbnail
    )
    return b"Exif\0\0" + tiff


def xmp_packet(canary: str) -> bytes:
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        f'exif:GPSLatitude="48,51.4N" exif:UserComment="XMP-{canary}"/>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def iptc_segment(canary: str) -> bytes:
    """APP13 "Photoshop 3.0" with an IPTC caption (2:120) and a city (2:90)."""
    records = b""
    for dataset, text in ((120, f"IPTC-{canary}"), (90, "Paris")):
        value = text.encode()
        records += struct.pack(">BBBH", 0x1C, 2, dataset, len(value)) + value
    block = b"8BIM" + struct.pack(">H", 0x0404) + b"\0\0" + struct.pack(">I", len(records))
    block += records + (b"\0" if len(records) % 2 else b"")
    return _segment(0xED, b"Photoshop 3.0\0" + block)


def two_tone(size: tuple[int, int] = (200, 100)) -> Image.Image:
    """Left half red, right half blue: shows where the pixels went after rotation."""
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, size[0] // 2, size[1]))
    return img


def jpeg_with_metadata(canary: str, *, orientation: int = 6) -> bytes:
    """A phone-like JPEG: EXIF (GPS, maker note, thumbnail), XMP, IPTC, comment, ICC."""
    out = io.BytesIO()
    two_tone().save(
        out,
        "JPEG",
        quality=95,
        exif=exif_block(canary, orientation=orientation),
        xmp=xmp_packet(canary),
        comment=f"COM-{canary}".encode(),
    )
    data = out.getvalue()
    # IPTC goes right after SOI, where photo tools write it.
    return data[:2] + iptc_segment(canary) + data[2:]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with_chunks(img: Image.Image, extra: list[bytes]) -> bytes:
    """Insert ancillary chunks right after IHDR of a PNG Pillow wrote."""
    out = io.BytesIO()
    img.save(out, "PNG")
    data = out.getvalue()
    ihdr_end = 8 + 12 + struct.unpack(">I", data[8:12])[0]
    return data[:ihdr_end] + b"".join(extra) + data[ihdr_end:]


def png_with_metadata(canary: str) -> bytes:
    exif = exif_block(canary, orientation=1)[6:]
    itxt = b"XML:com.adobe.xmp\0\0\0\0\0" + xmp_packet(canary)
    return _png_with_chunks(
        two_tone(),
        [
            _chunk(b"tEXt", b"Comment\0" + f"TEXT-{canary}".encode()),
            _chunk(b"zTXt", b"Author\0\0" + zlib.compress(f"ZTXT-{canary}".encode())),
            _chunk(b"iTXt", itxt),
            _chunk(b"eXIf", exif),
        ],
    )


def png_with_html_appended() -> bytes:
    out = io.BytesIO()
    two_tone((64, 64)).save(out, "PNG")
    return out.getvalue() + b"<html><script>alert(document.cookie)</script></html>"


def jpeg_zip_polyglot() -> bytes:
    """A JPEG that is also a ZIP archive (the ZIP directory sits at the end)."""
    import zipfile

    out = io.BytesIO()
    two_tone((64, 64)).save(out, "JPEG")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload.html", "<script>alert(1)</script>")
    return out.getvalue() + archive.getvalue()


def ztxt_bomb(inflated: int = 64 * 1024 * 1024) -> bytes:
    """A small PNG whose zTXt chunk inflates to `inflated` bytes (64 MiB by default)."""
    compressor = zlib.compressobj(9)
    block = b"\0" * (1024 * 1024)
    compressed = b"".join(compressor.compress(block) for _ in range(inflated // len(block)))
    compressed += compressor.flush()
    return _png_with_chunks(
        Image.new("RGB", (8, 8)), [_chunk(b"zTXt", b"Comment\0\0" + compressed)]
    )


def iccp_bomb() -> bytes:
    compressed = zlib.compress(b"\0" * (32 * 1024 * 1024), 9)
    return _png_with_chunks(Image.new("RGB", (8, 8)), [_chunk(b"iCCP", b"icc\0\0" + compressed)])


def pixel_bomb_png(size: tuple[int, int] = (20000, 20000)) -> bytes:
    img = Image.new("1", size, 0)
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny JPEG whose frame header claims width x height (a header-only bomb)."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def apng() -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in (RED, BLUE, (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in (RED, BLUE)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), RED).save(out, "GIF")
    return out.getvalue()


def tiff() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), RED).save(out, "TIFF")
    return out.getvalue()


def mpo(canary: str) -> bytes:
    """A multi-picture JPEG (as phones write for depth or HDR gain maps)."""
    out = io.BytesIO()
    two_tone().save(
        out,
        "MPO",
        save_all=True,
        append_images=[Image.new("RGB", (200, 100), (0, 255, 0))],
        exif=exif_block(canary, orientation=1),
    )
    return out.getvalue()


SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.domain)</script><rect width='10' height='10'/></svg>"
)
HTML = b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>"
PDF = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
HEIC = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64


def noisy_jpeg(size: tuple[int, int], seed: int = 0, quality: int = 90) -> bytes:
    """A photo-like JPEG (smooth gradients plus noise) so codecs do realistic work."""
    rnd = random.Random(seed)
    w, h = size
    base = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    noise = Image.effect_noise((w, h), 40).convert("RGB")
    img = Image.blend(base, noise, 0.35)
    img.paste((rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)), (0, 0, w // 8, h // 8))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png_rgba(size: tuple[int, int] = (120, 80), seed: int = 0) -> bytes:
    rnd = random.Random(seed)
    img = Image.new("RGBA", size, (rnd.randrange(256), 40, 90, 128))
    img.paste((255, 255, 255, 0), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def swapped_primaries_profile() -> bytes:
    """An RGB ICC profile whose red and blue primaries are swapped (and not named sRGB):
    a colour-managed reader shows stored red as blue, so converting it is observable."""
    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    entries = {}
    for index in range(struct.unpack(">I", data[128:132])[0]):
        sig, offset, size = struct.unpack(">4sII", data[132 + 12 * index : 144 + 12 * index])
        entries[sig] = (index, offset, size)
    (r_index, r_offset, r_size), (b_index, b_offset, b_size) = entries[b"rXYZ"], entries[b"bXYZ"]
    struct.pack_into(">4sII", data, 132 + 12 * r_index, b"rXYZ", b_offset, b_size)
    struct.pack_into(">4sII", data, 132 + 12 * b_index, b"bXYZ", r_offset, r_size)
    return bytes(data).replace("sRGB".encode("utf-16-be"), "Swap".encode("utf-16-be"))
