"""Phone-photo formats made on the spot: HEIC/HEIF and AVIF with metadata canaries in
each metadata item, image grids, multi-image containers, and GIFs (single and animated).

Every file is written by a real encoder (libheif through pillow-heif, libavif through
Pillow), so the server decodes what a phone or an export tool would send.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys

import pillow_heif
from PIL import ExifTags, Image

RED = (230, 20, 20)
BLUE = (20, 20, 230)

pillow_heif.register_heif_opener()


def halves(size: tuple[int, int] = (160, 80)) -> Image.Image:
    """Red left half, blue right half: where each half lands shows the orientation."""
    img = Image.new("RGB", size, RED)
    img.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return img


def exif_with_gps(canary: str, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.ImageDescription] = f"DESC-{canary}"
    exif[ExifTags.Base.Make] = f"MAKE-{canary}"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
        ExifTags.GPS.GPSAreaInformation: f"GPS-EXIF-{canary}",
    }
    return exif.tobytes()


def xmp_with_gps(canary: str) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.2N" '
        f'exif:GPSLongitude="13,24.6E" exif:GPSAreaInformation="GPS-XMP-{canary}"/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def heic_with_metadata(canary: str) -> bytes:
    """A HEIC as a phone writes it: GPS in the EXIF item and in the XMP item, an embedded
    thumbnail item, and turned a quarter clockwise (orientation 6, stored as `irot`)."""
    out = io.BytesIO()
    halves().save(
        out,
        "HEIF",
        exif=exif_with_gps(canary, orientation=6),
        xmp=xmp_with_gps(canary),
        thumbnails=[32],
        quality=90,
    )
    return out.getvalue()


def heic_grid(size: tuple[int, int] = (300, 200), tile: int = 64) -> bytes:
    """A HEIC whose primary image is a grid of tiles (how iPhones store every photo)."""
    out = io.BytesIO()
    halves(size).save(out, "HEIF", tile_size=tile, quality=90)
    return out.getvalue()


def heic_with_alpha() -> bytes:
    img = halves().convert("RGBA")
    img.putalpha(Image.new("L", img.size, 128))
    out = io.BytesIO()
    img.save(out, "HEIF", quality=90)
    return out.getvalue()


def heic_with_several_images() -> bytes:
    """Two top-level images in one container (a burst or an edit pair)."""
    out = io.BytesIO()
    halves().save(out, "HEIF", save_all=True, append_images=[halves((80, 80))])
    return out.getvalue()


def avif_with_metadata(canary: str) -> bytes:
    """An AVIF with the same canaries, orientation 6 in its EXIF (and as `irot`)."""
    out = io.BytesIO()
    halves().save(out, "AVIF", exif=exif_with_gps(canary, orientation=6), xmp=xmp_with_gps(canary))
    return out.getvalue()


def animated_avif() -> bytes:
    out = io.BytesIO()
    halves().save(out, "AVIF", save_all=True, append_images=[halves()], duration=100)
    return out.getvalue()


def gif_with_transparency(canary: str) -> bytes:
    """A single-frame GIF with a transparent colour and a comment canary."""
    img = halves().convert("P")
    out = io.BytesIO()
    img.save(out, "GIF", transparency=0, comment=f"COMMENT-{canary}".encode())
    return out.getvalue()


def animated_gif() -> bytes:
    out = io.BytesIO()
    first = halves().convert("P")
    first.save(out, "GIF", save_all=True, append_images=[halves((160, 80)).rotate(180)])
    return out.getvalue()


# --- A depth map, as portrait-mode photos carry one -----------------------------------
# libheif (through pillow-heif) writes thumbnails but not depth maps. A depth map is an
# auxiliary image: an item referenced by `auxl` with an `auxC` property naming its kind.
# So a thumbnail item becomes one: its `thmb` reference turns into `auxl`, an `auxC`
# property is appended and associated, and the item locations after the grown `meta`
# box move by the bytes added.

DEPTH_URN = b"urn:mpeg:hevc:2015:auxid:2\x00"


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of the boxes between start and end."""
    found, pos = [], start
    while pos < end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        found.append((kind, pos, pos + size))
        pos += size
    return found


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int]:
    return next((s, e) for k, s, e in _children(data, start, end) if k == kind)


def _uint(data: bytes | bytearray, pos: int, size: int) -> int:
    return int.from_bytes(data[pos : pos + size], "big") if size else 0


def _shift_iloc(iloc: bytearray, delta: int) -> None:
    """Move every item stored in the file (construction method 0) by `delta` bytes."""
    version = iloc[8]
    offset_size, length_size = iloc[12] >> 4, iloc[12] & 15
    base_size, index_size = iloc[13] >> 4, (iloc[13] & 15) if version in (1, 2) else 0
    pos = 14
    count = _uint(iloc, pos, 2 if version < 2 else 4)
    pos += 2 if version < 2 else 4
    for _ in range(count):
        pos += 2 if version < 2 else 4  # item id
        method = 0
        if version in (1, 2):
            method = _uint(iloc, pos, 2) & 15
            pos += 2
        pos += 2  # data reference index
        base = _uint(iloc, pos, base_size)
        base_at = pos
        pos += base_size
        extents = _uint(iloc, pos, 2)
        pos += 2
        if method == 0 and base:
            iloc[base_at : base_at + base_size] = (base + delta).to_bytes(base_size, "big")
        for _ in range(extents):
            pos += index_size
            if method == 0 and not base:
                offset = _uint(iloc, pos, offset_size)
                iloc[pos : pos + offset_size] = (offset + delta).to_bytes(offset_size, "big")
            pos += offset_size + length_size


def heic_with_depth_map() -> bytes:
    """A HEIC whose primary image has a depth map (an auxiliary image), like an iPhone
    portrait photo. Readers that know depth maps list it; it is not a second image."""
    out = io.BytesIO()
    halves().save(out, "HEIF", thumbnails=[40], quality=90)
    data = out.getvalue()
    meta_start, meta_end = _child(data, 0, len(data), b"meta")
    parts = dict((k, (s, e)) for k, s, e in _children(data, meta_start + 12, meta_end))
    iref_start, iref_end = parts[b"iref"]
    refs = _children(data, iref_start + 12, iref_end)
    thmb_start, _ = next((s, e) for k, s, e in refs if k == b"thmb")
    depth_item = _uint(data, thmb_start + 8, 2)
    iprp_start, iprp_end = parts[b"iprp"]
    ipco_start, ipco_end = _child(data, iprp_start + 8, iprp_end, b"ipco")
    ipma_start, ipma_end = _child(data, iprp_start + 8, iprp_end, b"ipma")
    properties = len(_children(data, ipco_start + 8, ipco_end))
    # The new property, then its association with the depth item (essential, index n+1).
    ipco = data[ipco_start + 8 : ipco_end] + _box(b"auxC", b"\x00\x00\x00\x00" + DEPTH_URN)
    ipma = bytearray(data[ipma_start + 8 : ipma_end])
    wide_ids, wide_indexes = ipma[0] >= 1, bool(ipma[3] & 1)
    pos, entries = 8, _uint(ipma, 4, 4)
    for _ in range(entries):
        item = _uint(ipma, pos, 4 if wide_ids else 2)
        pos += 4 if wide_ids else 2
        count = ipma[pos]
        end = pos + 1 + count * (2 if wide_indexes else 1)
        if item == depth_item:
            ipma[pos] = count + 1
            index = (0x8000 | (properties + 1)) if wide_indexes else (0x80 | (properties + 1))
            ipma[end:end] = index.to_bytes(2 if wide_indexes else 1, "big")
            break
        pos = end
    iprp = _box(b"iprp", _box(b"ipco", ipco) + _box(b"ipma", bytes(ipma)))
    iref = bytearray(data[iref_start:iref_end])
    iref[thmb_start - iref_start + 4 : thmb_start - iref_start + 8] = b"auxl"
    delta = len(iprp) - (iprp_end - iprp_start)
    children = []
    for kind, start, end in _children(data, meta_start + 12, meta_end):
        if kind == b"iprp":
            children.append(iprp)
        elif kind == b"iref":
            children.append(bytes(iref))
        elif kind == b"iloc":
            iloc = bytearray(data[start:end])
            _shift_iloc(iloc, delta)
            children.append(bytes(iloc))
        else:
            children.append(data[start:end])
    meta = _box(b"meta", data[meta_start + 8 : meta_start + 12] + b"".join(children))
    return data[:meta_start] + meta + data[meta_end:]


def depth_map_sizes(data: bytes) -> list[tuple[int, int]]:
    """The depth maps libheif finds in a HEIC, read in a fresh interpreter: the server
    (in the same process in tests) turns depth-map reading off process-wide."""
    program = (
        "import io, sys, pillow_heif\n"
        "image = pillow_heif.open_heif(io.BytesIO(sys.stdin.buffer.read()))\n"
        "print([list(d.size) for d in image.info['depth_images']])\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", program], input=data, capture_output=True, check=True, timeout=60
    )
    return [(w, h) for w, h in json.loads(found.stdout)]
