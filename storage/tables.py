"""SQLModel tables of the me-images pool.

The encrypted fields of an image are declared once, in `MeImageEncrypted` below, and
stored only as AES-256-GCM ciphertext (see `storage.encrypted`, `storage.crypto`);
everything the reference picker filters on stays plaintext.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from storage.encrypted import EncryptedColumns, encrypted

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
EventSeq = BigInteger().with_variant(Integer(), "sqlite")


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(ts: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime: SQLite hands back naive ones, and
    everything we write is UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


class Owner(SQLModel, table=True):
    """A person who owns pools; holds their global AI kill switch."""

    __tablename__ = "owner"

    id: str = Field(sa_column=Column(String(200), primary_key=True))
    ai_uses_reference_images: bool = Field(default=True)
    # Bumped by every write transaction of the owner (see storage/repositories/owners.py), so a
    # cached answer is valid exactly while this number is unchanged.
    data_version: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # The provider kinds the owner lets receive their images; null means every configured
    # one (migration 0009_consent_ledger).
    allowed_providers: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The earliest `ai_reference_until` among the owner's opted-in images: the moment the
    # data version must change although nobody writes (see resolvers/pool/consent.py).
    consent_lapses_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=True)
    )


class DataKey(SQLModel, table=True):
    """An owner's data key, stored wrapped (AES-256-GCM) by a master key."""

    __tablename__ = "data_key"

    id: str = Field(default_factory=new_id, sa_column=Column(String(36), primary_key=True))
    owner_id: str = Field(
        sa_column=Column(
            String(200), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    master_key_id: str = Field(sa_column=Column(String(32), nullable=False))
    wrapped_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class MediaObject(SQLModel, table=True):
    """Stored bytes of one owner, one row per owner and SHA-256 of the content; the objects
    themselves are sealed under keyed names (storage.sealed)."""

    __tablename__ = "media_object"
    __table_args__ = (UniqueConstraint("owner_id", "sha256", name="uq_media_object_owner_sha"),)

    id: str = Field(default_factory=new_id, sa_column=Column(String(36), primary_key=True))
    owner_id: str = Field(
        sa_column=Column(String(200), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False)
    )
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    content_type: str = Field(sa_column=Column(String(64), nullable=False))
    byte_size: int
    width: int
    height: int
    storage_path: str = Field(sa_column=Column(String(300), nullable=False))
    thumbnail_path: str = Field(sa_column=Column(String(300), nullable=False))
    # Null only for objects stored before migration 0002_media (made again on next upload).
    medium_path: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class MediaRef(SQLModel, table=True):
    """A media id: one upload of an owner into one space, tagged by app (`me` for this pool).

    Spaces are separate pools, so a reference belongs to exactly one space and is only
    ever found through it. Several references may share one object (the same bytes
    uploaded again, or in another space); each is attached to at most one live MeImage
    (migration 0007_media_space).
    """

    __tablename__ = "media_ref"
    __table_args__ = (Index("ix_media_ref_owner_space", "owner_id", "space_id"),)

    id: str = Field(default_factory=new_id, sa_column=Column(String(36), primary_key=True))
    owner_id: str = Field(
        sa_column=Column(String(200), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False)
    )
    space_id: str = Field(sa_column=Column(String(200), nullable=False))
    app: str = Field(sa_column=Column(String(32), nullable=False))
    media_object_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("media_object.id", ondelete="RESTRICT"), nullable=False
        )
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class MeImage(SQLModel, table=True):
    """One reference image of one owner in one space."""

    __tablename__ = "me_image"
    __table_args__ = (
        Index("ix_me_image_owner_space_live", "owner_id", "space_id", "deleted_at"),
        # The slot invariant lives in the database: one live holder per owner, space, slot.
        Index(
            "uq_me_image_primary_slot",
            "owner_id",
            "space_id",
            "primary_for",
            unique=True,
            sqlite_where=text("primary_for IS NOT NULL AND deleted_at IS NULL"),
            postgresql_where=text("primary_for IS NOT NULL AND deleted_at IS NULL"),
        ),
        # One live image per media id (migration 0007_media_space): a media id is one
        # upload, and deleting its image revokes its URLs for good.
        Index(
            "uq_me_image_live_media",
            "media_ref_id",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # Whether any image (live or deleted) holds a media id: the media route asks it
        # on every request.
        Index("ix_me_image_media_ref", "media_ref_id"),
    )

    id: str = Field(default_factory=new_id, sa_column=Column(String(36), primary_key=True))
    owner_id: str = Field(
        sa_column=Column(String(200), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False)
    )
    space_id: str = Field(sa_column=Column(String(200), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    label_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    tags_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    media_ref_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("media_ref.id", ondelete="RESTRICT"), nullable=False
        )
    )
    ai_reference: bool = Field(default=False)
    # The opt-in lapses by itself at this moment; null: until it is turned off.
    ai_reference_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    show_in_profile: bool = Field(default=True)
    primary_for: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    deleted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


@dataclass(frozen=True)
class MeImageEncrypted:
    """The encrypted fields of a MeImage in plaintext; each `x` is stored in `x_ct` above."""

    label: str | None = encrypted(max_chars=200)
    tags: list[str] = encrypted(max_chars=64, max_items=30)


ME_IMAGE_ENCRYPTED = EncryptedColumns(MeImage, MeImageEncrypted)


class MeImageEvent(SQLModel, table=True):
    """Append-only log of pool changes, written in the transaction of the change."""

    __tablename__ = "me_image_event"
    __table_args__ = (
        Index("ix_me_image_event_owner_seq", "owner_id", "space_id", "seq"),
        # Retention pruning finds old events by time (migration 0003_events).
        Index("ix_me_image_event_created_at", "created_at"),
        # SQLite would otherwise number a new row max(seq) + 1 and hand out the numbers of
        # deleted (purged) events again, which cursors would silently skip.
        {"sqlite_autoincrement": True},
    )

    seq: int | None = Field(
        default=None, sa_column=Column(EventSeq, primary_key=True, autoincrement=True)
    )
    owner_id: str = Field(sa_column=Column(String(200), nullable=False))
    space_id: str = Field(sa_column=Column(String(200), nullable=False))
    type: str = Field(sa_column=Column(String(32), nullable=False))
    image_id: str = Field(sa_column=Column(String(36), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # The live image as this change left it (label/tags still row-bound ciphertext), so a
    # replay shows each event's own state; null for deletions (migration 0003_events).
    image: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


metadata = SQLModel.metadata


class GenerationStatus(enum.StrEnum):
    """The stored `status` of a generation."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class EntryReason(enum.StrEnum):
    """The stored `reason` of a credit entry."""

    WELCOME = "welcome"
    GRANT = "grant"
    GENERATION = "generation"


class GenerationRecord(SQLModel, table=True):
    """One reference-generation call; while `pending`, its `credits_held` are reserved."""

    __tablename__ = "generation"
    __table_args__ = (
        Index("ix_generation_owner_space_created", "owner_id", "space_id", "created_at"),
        Index("ix_generation_owner_status", "owner_id", "status"),
        # A retry with the same key finds the first call; the index makes concurrent
        # retries of one key insert one row (migration 0008_generation_idempotency).
        Index(
            "uq_generation_idempotency_key",
            "owner_id",
            "space_id",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        # The sweeper finds pending generations whose process stopped renewing them.
        Index("ix_generation_status_heartbeat", "status", "heartbeat_at"),
    )

    id: str = Field(default_factory=new_id, sa_column=Column(String(36), primary_key=True))
    owner_id: str = Field(
        sa_column=Column(String(200), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False)
    )
    space_id: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    prompt_ct: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    model_requested: str = Field(sa_column=Column(String(64), nullable=False))
    model_used: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    quality: str = Field(sa_column=Column(String(16), nullable=False))
    size: str = Field(sa_column=Column(String(16), nullable=False))
    n: int
    reference_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    outputs: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    credits_held: int = Field(default=0)
    credits_charged: int = Field(default=0)
    failure: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    warning: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    completed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # Renewed by the running call while it is pending; a stale one means its process died.
    heartbeat_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # The client's key for safe retries, and the hash of the normalised input it was first
    # used with (encrypted like the prompt, since the hash would confirm a guessed prompt).
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    input_hash_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    # The inpainting mask as sent (a prepared PNG, base64), encrypted like the prompt; a
    # mask shows the outline of what the person changed (migration 0012_masks_chaining).
    mask_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


@dataclass(frozen=True)
class GenerationEncrypted:
    """The encrypted fields of a generation in plaintext; each `x` is stored in `x_ct`.

    The prompt is always given (its column is NOT NULL); the input hash only with an
    idempotency key; the mask only for an inpainting generation."""

    prompt: str | None = encrypted(max_chars=32_000)
    input_hash: str | None = encrypted(max_chars=64)
    # Base64 of the prepared mask PNG (at most 1024 x 1024 RGBA, far below this bound).
    mask: str | None = encrypted(max_chars=8_000_000)


GENERATION_ENCRYPTED = EncryptedColumns(GenerationRecord, GenerationEncrypted)


class UseOutcome(enum.StrEnum):
    """The stored `outcome` of a reference use."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # The call stopped (cancelled, or its server died) after the upload may have begun.
    INTERRUPTED = "interrupted"


class ReferenceUse(SQLModel, table=True):
    """The usage ledger: one row per reference image per generation that sent it.

    Written in the transaction that records the generation's outcome; it lives as long as
    that generation does (the image may be deleted meanwhile), so no key to `me_image`.
    """

    __tablename__ = "reference_use"
    __table_args__ = (
        UniqueConstraint("generation_id", "image_id", name="uq_reference_use_generation_image"),
        # An image's totals (count, last use) come from this index alone (migration
        # 0013_ledger_totals_index): the writers and the pool read them on every change.
        Index("ix_reference_use_owner_space_image", "owner_id", "space_id", "image_id", "used_at"),
        Index("ix_reference_use_owner_space", "owner_id", "space_id", "used_at"),
    )

    id: str = Field(default_factory=new_id, sa_column=Column(String(36), primary_key=True))
    owner_id: str = Field(
        sa_column=Column(String(200), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False)
    )
    space_id: str = Field(sa_column=Column(String(200), nullable=False))
    image_id: str = Field(sa_column=Column(String(36), nullable=False))
    generation_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("generation.id", ondelete="CASCADE"), nullable=False
        )
    )
    provider: str = Field(sa_column=Column(String(32), nullable=False))
    model: str = Field(sa_column=Column(String(64), nullable=False))
    host: str = Field(sa_column=Column(String(255), nullable=False))
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    used_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class CreditEntry(SQLModel, table=True):
    """The credit ledger: a balance is the sum of an owner's entries."""

    __tablename__ = "credit_entry"
    __table_args__ = (
        # A generation is charged at most once, whatever retries happen around it.
        UniqueConstraint("generation_id", name="uq_credit_entry_generation"),
        # The starting balance is given once per owner.
        Index(
            "uq_credit_entry_welcome",
            "owner_id",
            unique=True,
            sqlite_where=text("reason = 'welcome'"),
            postgresql_where=text("reason = 'welcome'"),
        ),
        Index("ix_credit_entry_owner", "owner_id"),
    )

    id: str = Field(default_factory=new_id, sa_column=Column(String(36), primary_key=True))
    owner_id: str = Field(
        sa_column=Column(String(200), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False)
    )
    delta: int
    reason: str = Field(sa_column=Column(String(16), nullable=False))
    generation_id: str | None = Field(default=None, sa_column=Column(String(36), nullable=True))
    note: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class EventLogHorizon(SQLModel, table=True):
    """One row: every event with seq <= pruned_through has been pruned from the log."""

    __tablename__ = "event_log_horizon"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    pruned_through: int = Field(sa_column=Column(BigInteger, nullable=False))


class MediaBlob(SQLModel, table=True):
    """Every blob key the server writes, registered before its bytes (migration 0002_media).

    `orphaned_at` is null while a media row references the key; otherwise it is when the
    last reference went (or the write began), and the garbage collector removes the bytes
    once that is older than its grace period. No foreign key: it outlives purged owners.
    """

    __tablename__ = "media_blob"
    __table_args__ = (Index("ix_media_blob_orphaned_at", "orphaned_at"),)

    key: str = Field(sa_column=Column(String(300), primary_key=True))
    owner_id: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    orphaned_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class MediaVariant(SQLModel, table=True):
    """A transformed rendition of a media object, made on first request and kept."""

    __tablename__ = "media_variant"
    __table_args__ = (
        UniqueConstraint("media_object_id", "spec", name="uq_media_variant_object_spec"),
    )

    id: str = Field(default_factory=new_id, sa_column=Column(String(36), primary_key=True))
    media_object_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("media_object.id", ondelete="CASCADE"), nullable=False
        )
    )
    spec: str = Field(sa_column=Column(String(64), nullable=False))
    storage_path: str = Field(sa_column=Column(String(300), nullable=False))
    content_type: str = Field(sa_column=Column(String(64), nullable=False))
    byte_size: int
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ExportJob(SQLModel, table=True):
    """An archive of one owner's pool and history, built in the background (migration
    0011_exports). `file_name` is the archive in the export folder once `status` is done."""

    __tablename__ = "export_job"
    __table_args__ = (
        Index("ix_export_job_owner_space", "owner_id", "space_id", "created_at"),
        Index("ix_export_job_expires_at", "expires_at"),
    )

    id: str = Field(default_factory=new_id, sa_column=Column(String(36), primary_key=True))
    owner_id: str = Field(
        sa_column=Column(String(200), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False)
    )
    space_id: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    images_total: int = Field(default=0)
    images_done: int = Field(default=0)
    byte_size: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    file_name: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    failure: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # Renewed with every step of progress: a running job whose process died goes stale.
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    completed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
