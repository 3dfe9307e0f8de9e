"""Phone-photo formats made on the spot: HEIC/HEIF and AVIF with metadata canaries in
each metadata item, image grids, multi-image containers, and GIFs (single and animated).

Every file is written by a real encoder (libheif through pillow-heif, libavif through
Pillow), so the server decodes what a phone or an export tool would send.
"""

from __future__ import annotations

import io

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
