"""Which image files already are what meimages stores: nothing but pixel data (no EXIF,
XMP, ICC, comments or trailing bytes), as the files meimages itself writes. An import
keeps such a file byte for byte (`sanitising.encode_upload(keep_plain=True)`), so an
export and an import lose nothing; any other file is re-encoded like an upload.
"""

from __future__ import annotations

import struct

# Frame, table, restart and scan segments: everything a JPEG needs to show its pixels.
_PLAIN_JPEG_SEGMENTS = {0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDD, 0xDA}
_PLAIN_PNG_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
_PLAIN_WEBP_CHUNKS = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}
# VP8X flags other than alpha announce ICC, EXIF, XMP or animation.
_WEBP_ALPHA_FLAG = 0x10


def _plain_jpeg(data: bytes) -> bool:
    if not data.startswith(b"\xff\xd8"):
        return False
    pos, end = 2, len(data)
    while pos + 2 <= end:  # bounded: every round moves forward
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xD9:
            return pos + 2 == end  # nothing may follow the end of the image
        if pos + 4 > end:
            return False
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return False
        if marker == 0xE0:
            # JFIF without an embedded thumbnail, as Pillow writes it.
            if length != 16 or data[pos + 4 : pos + 9] != b"JFIF\x00":
                return False
        elif marker not in _PLAIN_JPEG_SEGMENTS:
            return False
        pos += 2 + length
        if marker == 0xDA:
            pos = _after_scan(data, pos)
    return False


def _after_scan(data: bytes, pos: int) -> int:
    """The position of the marker that ends entropy-coded data (stuffed 0xFF00 bytes and
    restart markers belong to the scan)."""
    while True:  # bounded: every round moves forward or returns
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1
            continue
        return pos


def _plain_png(data: bytes) -> bool:
    pos, end = 8, len(data)
    while pos + 12 <= end:  # bounded: every round moves forward
        length: int = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        if kind not in _PLAIN_PNG_CHUNKS:
            return False
        pos += 12 + length
        if kind == b"IEND":
            return pos == end
    return False


def _plain_webp(data: bytes) -> bool:
    if len(data) < 12 or int.from_bytes(data[4:8], "little") != len(data) - 8:
        return False
    pos, end = 12, len(data)
    while pos + 8 <= end:  # bounded: every round moves forward
        kind = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if kind not in _PLAIN_WEBP_CHUNKS:
            return False
        if kind == b"VP8X" and (size < 1 or data[pos + 8] & ~_WEBP_ALPHA_FLAG):
            return False
        pos += 8 + size + (size & 1)
    return pos == end


_PLAIN = {"JPEG": _plain_jpeg, "PNG": _plain_png, "WEBP": _plain_webp}


def plain_container(data: bytes, fmt: str) -> bool:
    """Whether the file holds nothing but what its pixels need (see the module docstring)."""
    check = _PLAIN.get(fmt)
    return bool(check is not None and check(data))
