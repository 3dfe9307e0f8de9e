"""The archive's format, declared once: its files, their names, its version, its README.

Format 1 (a zip):
    manifest.json     {"format": "meimages-export", "version": 1, "exportedAt", "space", "counts"}
    pool.json         {"aiUsesReferenceImages", "images": [image, ...]}
    images/<id>.<ext> each live image's stored original (metadata-free, as served)
    generations.json  {"generations": [generation, ...]}, oldest first
    outputs/<generation id>-<index>.<ext>  a generation's stored output images
    credits.json      {"balance", "entries": [entry, ...]}, oldest first
    usage.json        {"uses": [use, ...]}: every time an image was sent to a provider
    README.txt        what each file is
"""

from __future__ import annotations

import re

FORMAT = "meimages-export"
VERSION = 1

MANIFEST = "manifest.json"
POOL = "pool.json"
GENERATIONS = "generations.json"
CREDITS = "credits.json"
USAGE = "usage.json"
README = "README.txt"
IMAGES_DIR = "images/"
OUTPUTS_DIR = "outputs/"

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
# Entry names an archive may hold: the fixed files, and images under two folders, named
# by ids we wrote (letters, digits, dashes), so no name can climb out of a folder.
_IMAGE_NAME = re.compile(r"(images/[A-Za-z0-9-]{1,64}|outputs/[A-Za-z0-9-]{1,80})\.(jpg|png|webp)")
FIXED_FILES = (MANIFEST, POOL, GENERATIONS, CREDITS, USAGE, README)
FOLDERS = (IMAGES_DIR, OUTPUTS_DIR)
# The JSON and text files are small next to the images; more than this is not ours.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def image_entry(image_id: str, content_type: str) -> str:
    return f"{IMAGES_DIR}{image_id}.{EXTENSIONS.get(content_type, 'bin')}"


def output_entry(generation_id: str, index: int, content_type: str) -> str:
    return f"{OUTPUTS_DIR}{generation_id}-{index}.{EXTENSIONS.get(content_type, 'bin')}"


def is_image_entry(name: str) -> bool:
    return _IMAGE_NAME.fullmatch(name) is not None


README_TEXT = f"""\
Your meimages data
==================

This archive holds your reference-image pool and its history, as this server kept it,
decrypted for you. It is format "{FORMAT}" version {VERSION}; another meimages server
can import it (GraphQL `importMyData`, or `meimages import --user ID FILE`).

{MANIFEST}
    What this is: the format and version, when it was made, the space it came from,
    and how many images, generations and credit entries it holds.

{POOL}
    Your images, oldest first, each with: id, kind (face, fullbody, halfbody, hands,
    reference), label, tags, usage (aiReference: whether AI may use it; showInProfile),
    primaryFor (avatar, face-ref, body-ref or null), createdAt, updatedAt (UTC), the
    file name of its picture, its content type, size in pixels and SHA-256.
    aiUsesReferenceImages is your global switch for AI use of reference images.

{IMAGES_DIR}<id>.<jpg|png|webp>
    Each image exactly as the server stored it: the photo you uploaded, turned upright
    and re-encoded with no metadata (no EXIF, GPS, XMP or camera data).

{GENERATIONS}
    Your image generations, oldest first: prompt, model requested and used, quality,
    size, number of images, the ids of the reference images used (ids of {POOL}),
    status, credits charged, failure or warning, times, the outputs, and the
    inpainting mask if one was sent (base64 of a PNG whose transparent pixels marked
    what could change).

{OUTPUTS_DIR}<generation id>-<index>.<ext>
    The output images of your generations that the server stored.

{CREDITS}
    Your credit ledger, oldest first: each entry's amount (negative when spent), reason
    (welcome, grant, generation), the generation it paid for, a note, and its time; and
    the balance (the sum). Credits do not move with an import: they are this server's.

{USAGE}
    Where your face went: every time one of your images was sent to an image provider,
    oldest first, with the image id, the generation, the provider (openai, gemini,
    openai-compatible), the host it was sent to, the model, the outcome and the time.
    It is kept for you to read; an import does not restore it.

An import restores the images with their kinds, labels, tags, slots and times. Consent
does not travel by default: imported images arrive with AI use off unless the importer
asks to keep it.
"""
