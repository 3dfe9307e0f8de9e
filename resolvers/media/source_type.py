"""The IPTC digital source type of an image, in its XMP: how the picture came to be
(`trainedAlgorithmicMedia` for what this server generates). Written into generated
outputs (`resolvers.generation.provenance`) and carried over into every variant made of
them (`resolvers.media.transforms`), so readers that do not speak C2PA still see it."""

from __future__ import annotations

import re

from PIL import Image

__all__ = ["TRAINED_ALGORITHMIC_MEDIA", "source_type_of", "xmp_packet"]

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
_XMP_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_XMP_TEMPLATE = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    f'  <rdf:Description rdf:about="" xmlns:Iptc4xmpExt="{_XMP_NS}">\n'
    "   <Iptc4xmpExt:DigitalSourceType>{source}</Iptc4xmpExt:DigitalSourceType>\n"
    "  </rdf:Description>\n"
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="r"?>'
)
# The element form we write and the attribute form other writers use.
_SOURCE_TYPE = re.compile(
    rb"Iptc4xmpExt:DigitalSourceType(?:>\s*|\s*=\s*\")"
    rb"(http://cv\.iptc\.org/newscodes/digitalsourcetype/[A-Za-z]{1,64})"
)


def xmp_packet(source_type: str = TRAINED_ALGORITHMIC_MEDIA) -> bytes:
    """An XMP packet that says only how the image came to be."""
    return _XMP_TEMPLATE.format(source=source_type).encode()


def source_type_of(img: Image.Image) -> str | None:
    """The IPTC digital source type in a decoded image's XMP, if it has one (read it
    before `canonical` drops every metadata block)."""
    xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode()
    if not isinstance(xmp, bytes):
        return None
    found = _SOURCE_TYPE.search(xmp[:65536])
    return found[1].decode() if found else None
