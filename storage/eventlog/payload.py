"""What an event records itself, beside the image's state: its type and payload keys.

The keys are written and read here only, spelled as `EventPayload` names its fields
(the schema spells them its own way). `EventPayload.decode` also reads the spellings
earlier versions wrote: `previous` and `previousSlot` for `previous_slot`, and the API's
`showInProfile` among the changed fields.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class EventType(enum.StrEnum):
    """The kinds of change, as stored in `me_image_event.type`."""

    ADDED = "MeImageAdded"
    UPDATED = "MeImageUpdated"
    AI_REFERENCE_TOGGLED = "MeImageAiReferenceToggled"
    PRIMARY_CHANGED = "MeImagePrimaryChanged"
    DELETED = "MeImageDeleted"
    # The owner's kill switch (`aiUsesReferenceImages`) changed; no image of its own.
    AI_SWITCH_CHANGED = "AiUsesReferenceImagesChanged"

    @property
    def of_image(self) -> bool:
        """Whether the event is about one image (every type but the owner's switch)."""
        return self is not EventType.AI_SWITCH_CHANGED


# The payload keys each kind of event writes, null values included.
_KEYS: dict[EventType, tuple[str, ...]] = {
    EventType.ADDED: ("kind",),
    EventType.UPDATED: ("fields",),
    EventType.AI_REFERENCE_TOGGLED: ("enabled",),
    EventType.PRIMARY_CHANGED: ("slot", "previous_slot"),
    EventType.DELETED: ("kind", "previous_slot"),
    EventType.AI_SWITCH_CHANGED: ("enabled",),
}


@dataclass(frozen=True)
class EventPayload:
    # ADDED and DELETED: what the image showed.
    kind: str | None = None
    # PRIMARY_CHANGED: the slot the image holds now (None: it lost its slot).
    slot: str | None = None
    # PRIMARY_CHANGED: the slot it held before; DELETED: the slot it lost.
    previous_slot: str | None = None
    # AI_REFERENCE_TOGGLED: the new opt-in; AI_SWITCH_CHANGED: the switch's new position.
    enabled: bool | None = None
    # AI_REFERENCE_TOGGLED: the opt-in lapsed at its `until` (nobody switched it).
    expired: bool = False
    # UPDATED: the fields of the image that changed, by their domain names
    # (`label`, `tags`, `kind`, `show_in_profile`).
    fields: tuple[str, ...] = ()

    def encode(self, type: EventType) -> dict[str, Any]:
        # Read field by field, not with `asdict`: its deep copy costs more than the write.
        encoded = {key: getattr(self, key) for key in _KEYS[type]}
        if "fields" in encoded:
            encoded["fields"] = list(self.fields)
        if self.expired:
            # Only a lapse says so: every toggle logged before timed consent reads the same.
            encoded["expired"] = True
        return encoded

    @classmethod
    def decode(cls, data: Mapping[str, Any] | None) -> EventPayload:
        data = data or {}
        # Earlier versions spelled it `previous` (and `previousSlot` on deletions); such
        # rows stay in existing databases until retention prunes them.
        previous = data.get("previous_slot", data.get("previous", data.get("previousSlot")))
        return cls(
            kind=data.get("kind") or None,
            slot=data.get("slot") or None,
            previous_slot=previous or None,
            enabled=data.get("enabled"),
            # Only a lapse writes `expired`; every other toggle (and every older one) has none.
            expired=bool(data.get("expired", False)),
            fields=tuple(_EARLIER_FIELD_NAMES.get(f, f) for f in data.get("fields") or ()),
        )


# Changed fields as earlier versions logged them (the API's names) → their names now.
_EARLIER_FIELD_NAMES = {"showInProfile": "show_in_profile"}
