"""generateWithReference: consent, credits, the provider call, and keeping the results.

The order matters:
1. validate the input and find a configured provider;
2. check consent and read + clean the references (no row written yet);
3. in one short transaction under the owner lock: check consent again (this is the
   send-time check - toggles take the same lock), check credits and hold them by
   writing the pending generation;
4. call the provider with no transaction open;
5. store the outputs as the caller's `picture` media (inline base64 if that fails);
6. in one transaction: charge exactly once (unique per generation) and finish the row.

While steps 4-6 run, the call renews the row's heartbeat; the sweeper fails a pending
generation whose heartbeat went stale (its process died) and so releases its hold.

With an idempotency key, the first call that reaches step 3 writes the key with the row
(unique per owner, space and key); every other call with that key returns the first one's
outcome instead of calling the provider: the generation (SUCCEEDED, or PENDING while the
first call still runs) or its ProviderFailed. The same key with another input is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import math
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.errors import InvalidInput, NotFound, TooLarge
from resolvers.generation import credits
from resolvers.generation.credits import GenerationStatus
from resolvers.generation.errors import InsufficientCredits, ProviderFailed, ReferenceNotUsable
from resolvers.generation.pricing import (
    DEFAULT_MODEL,
    MODELS,
    Model,
    Quality,
    Size,
    cost_of,
    hold_for,
)
from resolvers.generation.providers import ImageProvider, ImageRequest, provider_for
from resolvers.generation.references import UnreadableReference, clean_reference_png
from resolvers.media import get_media, store_image
from resolvers.owners import lock_owner
from resolvers.stores import Caller, Stores
from storage.tables import GenerationRecord, MeImage, Owner, utcnow

log = logging.getLogger("meimages.generation")

APP_PICTURE = "picture"
MAX_PROMPT = 32_000
MAX_REFERENCES = 8
MAX_IMAGES = 4
MAX_PAGE = 100
_OUTPUT_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
MAX_IDEMPOTENCY_KEY = 128
# Printable ASCII without spaces: UUIDs, ULIDs, base64 and hex all fit.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    reference_ids: Sequence[str]
    model: str = DEFAULT_MODEL
    quality: str = Quality.MEDIUM.value
    size: str = Size.SQUARE.value
    n: int = 1
    idempotency_key: str | None = None


@dataclass(frozen=True)
class OutputImage:
    """One output image: stored as media, or (only in the response) inline bytes."""

    index: int
    content_type: str
    width: int
    height: int
    media_id: str | None = None
    inline: bytes | None = None


@dataclass(frozen=True)
class Generation:
    id: str
    owner_id: str
    space_id: str
    status: GenerationStatus
    prompt: str
    model_requested: str
    model_used: str | None
    quality: Quality
    size: Size
    n: int
    reference_ids: list[str]
    images: list[OutputImage]
    cost: int
    failure: str | None
    warning: str | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class _Valid:
    prompt: str
    reference_ids: list[str]
    model: Model
    quality: Quality
    size: Size
    n: int
    idempotency_key: str | None = None

    @property
    def input_hash(self) -> str:
        """SHA-256 of the normalised input: what a retry with the same key must repeat."""
        normalised = {
            "prompt": self.prompt,
            "referenceIds": self.reference_ids,
            "model": self.model.id,
            "quality": self.quality.value,
            "size": self.size.value,
            "n": self.n,
        }
        text = json.dumps(normalised, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()


def _validate_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput(
            f"idempotencyKey is 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters "
            "without spaces (a UUID fits)",
            field="idempotencyKey",
        )
    return key


def validate(request: GenerationRequest) -> _Valid:
    prompt = request.prompt.strip()
    if not prompt:
        raise InvalidInput("the prompt is empty", field="prompt")
    if len(prompt) > MAX_PROMPT:
        raise InvalidInput(f"the prompt is longer than {MAX_PROMPT} characters", field="prompt")
    ids = [str(i) for i in request.reference_ids]
    if not 1 <= len(ids) <= MAX_REFERENCES:
        raise InvalidInput(
            f"give between 1 and {MAX_REFERENCES} reference images", field="referenceImageIds"
        )
    if len(set(ids)) != len(ids):
        raise InvalidInput("each reference image may be given once", field="referenceImageIds")
    model = MODELS.get(request.model)
    if model is None:
        raise InvalidInput(
            f"unknown model; one of: {', '.join(MODELS)}",
            field="model",
        )
    try:
        quality = Quality(request.quality)
    except ValueError:
        raise InvalidInput("quality is one of low, medium, high", field="quality") from None
    try:
        size = Size(request.size)
    except ValueError:
        raise InvalidInput(
            "size is one of 1024x1024, 1536x1024, 1024x1536, auto", field="size"
        ) from None
    if not 1 <= request.n <= MAX_IMAGES:
        raise InvalidInput(f"n is between 1 and {MAX_IMAGES}", field="n")
    key = _validate_key(request.idempotency_key)
    return _Valid(prompt, ids, model, quality, size, request.n, key)


async def usable_references(
    session: AsyncSession, caller: Caller, reference_ids: Sequence[str]
) -> dict[str, str]:
    """Image id -> media id of the references AI may use right now, by every rule at once."""
    rows = (
        await session.execute(
            select(MeImage.id, MeImage.media_ref_id)  # type: ignore[call-overload]
            .join(Owner, Owner.id == MeImage.owner_id)
            .where(
                MeImage.id.in_(list(reference_ids)),  # type: ignore[attr-defined]
                MeImage.owner_id == caller.owner_id,
                MeImage.space_id == caller.space_id,
                MeImage.deleted_at.is_(None),  # type: ignore[union-attr]
                MeImage.ai_reference.is_(True),  # type: ignore[attr-defined]
                Owner.ai_uses_reference_images.is_(True),  # type: ignore[attr-defined]
            )
        )
    ).all()
    return {str(row[0]): str(row[1]) for row in rows}


async def _check_consent(
    session: AsyncSession, caller: Caller, reference_ids: Sequence[str]
) -> dict[str, str]:
    usable = await usable_references(session, caller, reference_ids)
    refused = [i for i in reference_ids if i not in usable]
    if refused:
        raise ReferenceNotUsable(refused)
    return usable


async def _prepare(stores: Stores, caller: Caller, valid: _Valid) -> list[bytes]:
    """Consent, then the references' bytes as clean PNGs; writes nothing."""
    async with stores.db.session() as session:
        usable = await _check_consent(session, caller, valid.reference_ids)
        paths: dict[str, str] = {}
        for image_id in valid.reference_ids:
            try:
                media = await get_media(session, caller, usable[image_id])
            except NotFound:
                raise ReferenceNotUsable([image_id]) from None
            paths[image_id] = media.storage_path
    config = stores.generation

    async def clean(image_id: str) -> bytes:
        data = await stores.blobs.get(paths[image_id])
        if data is None:
            raise ReferenceNotUsable([image_id])
        try:
            return await asyncio.to_thread(
                clean_reference_png,
                data,
                long_side=config.reference_long_side,
                max_pixels=stores.limits.max_image_pixels,
            )
        except UnreadableReference:
            raise ReferenceNotUsable([image_id]) from None

    references = [await clean(image_id) for image_id in valid.reference_ids]
    total = sum(len(png) for png in references)
    if total > config.max_request_bytes:
        raise TooLarge(
            f"the references come to {total} bytes as PNG; one request may carry "
            f"{config.max_request_bytes}",
            config.max_request_bytes,
        )
    return references


async def _keyed(session: AsyncSession, caller: Caller, key: str) -> str | None:
    """Id of the caller's generation (in this space) made with this idempotency key."""
    found = (
        await session.execute(
            select(GenerationRecord.id).where(  # type: ignore[call-overload]
                GenerationRecord.owner_id == caller.owner_id,
                GenerationRecord.space_id == caller.space_id,
                GenerationRecord.idempotency_key == key,
            )
        )
    ).scalar_one_or_none()
    return str(found) if found is not None else None


async def _reserve(stores: Stores, caller: Caller, valid: _Valid) -> tuple[str, bool]:
    """The send-time consent check and the credit hold, in one transaction.

    Returns the generation id and whether this call made it: False when an earlier call
    with the same idempotency key did (that one's outcome is the answer)."""
    try:
        return await _reserve_once(stores, caller, valid)
    except IntegrityError:
        # Another instance inserted the same key between our check and our insert; the
        # unique index kept it to one row. Find that row (it is committed by now).
        if valid.idempotency_key is None:
            raise
        async with stores.db.session() as session:
            earlier = await _keyed(session, caller, valid.idempotency_key)
        if earlier is None:
            raise
        return earlier, False


async def _reserve_once(stores: Stores, caller: Caller, valid: _Valid) -> tuple[str, bool]:
    hold = hold_for(valid.model, valid.quality, valid.n)
    now = utcnow()
    async with stores.db.transaction() as session:
        await lock_owner(session, caller.owner_id)
        if valid.idempotency_key is not None:
            earlier = await _keyed(session, caller, valid.idempotency_key)
            if earlier is not None:
                return earlier, False
        await _check_consent(session, caller, valid.reference_ids)
        await credits.ensure_welcome(session, caller.owner_id, stores.generation)
        have = await credits.available(session, caller.owner_id, stores.generation)
        if have < hold:
            raise InsufficientCredits(required=hold, available=max(have, 0))
        record = GenerationRecord(
            owner_id=caller.owner_id,
            space_id=caller.space_id,
            status=GenerationStatus.PENDING.value,
            prompt_ct=b"",
            model_requested=valid.model.id,
            quality=valid.quality.value,
            size=valid.size.value,
            n=valid.n,
            reference_ids=valid.reference_ids,
            outputs=[],
            credits_held=hold,
            created_at=now,
            heartbeat_at=now,
            idempotency_key=valid.idempotency_key,
        )
        record.prompt_ct = await stores.vault.encrypt(
            session,
            owner_id=caller.owner_id,
            table="generation",
            field="prompt",
            row_id=record.id,
            value=valid.prompt,
        )
        if valid.idempotency_key is not None:
            record.input_hash_ct = await stores.vault.encrypt(
                session,
                owner_id=caller.owner_id,
                table="generation",
                field="input_hash",
                row_id=record.id,
                value=valid.input_hash,
            )
        session.add(record)
        await session.flush()
        return record.id, True


async def _replay(stores: Stores, caller: Caller, generation_id: str, valid: _Valid) -> Generation:
    """The outcome of the earlier call with the same key, if the input is the same."""
    async with stores.db.session() as session:
        row = await session.get(GenerationRecord, generation_id)
        if row is None:
            raise NotFound("Generation")
        stored = (
            await stores.vault.decrypt(
                session,
                owner_id=row.owner_id,
                table="generation",
                field="input_hash",
                row_id=row.id,
                blob=row.input_hash_ct,
            )
            if row.input_hash_ct is not None
            else None
        )
        if stored != valid.input_hash:
            raise InvalidInput(
                "this idempotencyKey was already used with a different input (prompt, "
                "references, model, quality, size or n); use a new key for a new generation",
                field="idempotencyKey",
            )
        generation = await _to_generation(stores, session, row)
    if generation.status is GenerationStatus.FAILED:
        model = MODELS.get(generation.model_requested)
        raise ProviderFailed(
            model.provider.value if model else "unknown",
            generation.failure or "failed",
            generation.id,
        )
    return generation


async def renew(stores: Stores, generation_id: str) -> None:
    """One heartbeat: the call of this pending generation is still running."""
    async with stores.db.transaction() as session:
        await session.execute(
            update(GenerationRecord)
            .where(
                GenerationRecord.id == generation_id,  # type: ignore[arg-type]
                GenerationRecord.status == GenerationStatus.PENDING.value,  # type: ignore[arg-type]
            )
            .values(heartbeat_at=utcnow())
        )


@asynccontextmanager
async def _kept_alive(stores: Stores, generation_id: str) -> AsyncIterator[None]:
    """Renew the heartbeat while the body runs, so the sweeper leaves the hold alone."""
    config = stores.generation

    async def beat() -> None:
        # Past the hold's lifetime the hold has lapsed anyway; no point beating on.
        for _ in range(math.ceil(config.hold_ttl_s / config.heartbeat_s) + 1):
            await asyncio.sleep(config.heartbeat_s)
            try:
                await renew(stores, generation_id)
            except Exception:
                log.warning("generation %s: heartbeat failed", generation_id, exc_info=True)

    task = asyncio.create_task(beat(), name=f"generation-heartbeat-{generation_id}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _inspect(data: bytes, max_pixels: int) -> tuple[str, int, int]:
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            if fmt not in _OUTPUT_FORMATS or img.width * img.height > max_pixels:
                raise ValueError(fmt)
            img.load()
            return _OUTPUT_FORMATS[fmt], img.width, img.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValueError("not an image") from None


async def _keep(
    stores: Stores, caller: Caller, provider_name: str, images: list[bytes]
) -> tuple[list[OutputImage], str | None]:
    """Store each output as the caller's media; what cannot be stored comes back inline."""
    # Check every image first, so a bad one fails the call before anything is stored.
    try:
        shapes = [
            await asyncio.to_thread(_inspect, data, stores.limits.max_image_pixels)
            for data in images
        ]
    except ValueError:
        raise ProviderFailed(
            provider_name, "the reply contained data that is not an image"
        ) from None
    outputs: list[OutputImage] = []
    inline = 0
    for index, (data, (content_type, width, height)) in enumerate(zip(images, shapes, strict=True)):
        try:
            media = await store_image(stores, caller, data, app=APP_PICTURE)
        except Exception:
            # The provider already produced (and billed) this image: never lose it.
            log.exception("could not store generated image %d; returning it inline", index)
            outputs.append(OutputImage(index, content_type, width, height, inline=data))
            inline += 1
            continue
        outputs.append(OutputImage(index, media.content_type, media.width, media.height, media.id))
    warning = None
    if inline:
        warning = (
            f"{inline} of {len(images)} images could not be stored; they are included inline "
            "(base64) in this response only - save them now"
        )
    return outputs, warning


def _output_json(outputs: Sequence[OutputImage]) -> list[dict[str, Any]]:
    return [
        {
            "index": o.index,
            "mediaId": o.media_id,
            "contentType": o.content_type,
            "width": o.width,
            "height": o.height,
        }
        for o in outputs
        if o.media_id is not None
    ]


async def _finish_failed(stores: Stores, caller: Caller, generation_id: str, detail: str) -> None:
    async with stores.db.transaction() as session:
        await lock_owner(session, caller.owner_id)
        record = await session.get(GenerationRecord, generation_id)
        if record is not None and record.status == GenerationStatus.PENDING.value:
            record.status = GenerationStatus.FAILED.value
            record.failure = detail[:300]
            record.credits_held = 0
            record.completed_at = utcnow()
            session.add(record)


async def _finish_succeeded(
    stores: Stores,
    caller: Caller,
    generation_id: str,
    valid: _Valid,
    model_used: str,
    outputs: list[OutputImage],
    warning: str | None,
) -> int:
    cost = cost_of(model_used, valid.quality, len(outputs))
    async with stores.db.transaction() as session:
        await lock_owner(session, caller.owner_id)
        record = await session.get(GenerationRecord, generation_id)
        if record is None or record.status != GenerationStatus.PENDING.value:
            raise RuntimeError(f"generation {generation_id} is no longer pending")
        session.add(credits.charge_entry(caller.owner_id, generation_id, cost))
        record.status = GenerationStatus.SUCCEEDED.value
        record.model_used = model_used
        record.outputs = _output_json(outputs)
        record.credits_held = 0
        record.credits_charged = cost
        record.warning = warning
        record.completed_at = utcnow()
        session.add(record)
    return cost


async def generate_with_reference(
    stores: Stores, caller: Caller, request: GenerationRequest
) -> Generation:
    valid = validate(request)
    if valid.idempotency_key is not None:
        # A retry: answer from the first call without preparing anything.
        async with stores.db.session() as session:
            earlier = await _keyed(session, caller, valid.idempotency_key)
        if earlier is not None:
            return await _replay(stores, caller, earlier, valid)
    provider: ImageProvider = provider_for(stores.generation, valid.model)
    references = await _prepare(stores, caller, valid)
    generation_id, fresh = await _reserve(stores, caller, valid)
    if not fresh:
        return await _replay(stores, caller, generation_id, valid)
    async with _kept_alive(stores, generation_id):
        return await _run(stores, caller, valid, provider, references, generation_id)


async def _run(
    stores: Stores,
    caller: Caller,
    valid: _Valid,
    provider: ImageProvider,
    references: list[bytes],
    generation_id: str,
) -> Generation:
    """Steps 4-6 for a reserved generation."""
    try:
        result = await provider.generate(
            ImageRequest(
                model=valid.model,
                prompt=valid.prompt,
                size=valid.size,
                quality=valid.quality,
                n=valid.n,
                references=references,
            )
        )
        if not result.images:
            raise ProviderFailed(provider.name, "the reply contained no image")
        outputs, warning = await _keep(stores, caller, provider.name, result.images)
        try:
            cost = await _finish_succeeded(
                stores, caller, generation_id, valid, result.model_used, outputs, warning
            )
        except Exception:
            # The provider produced (and billed) the images but we could not record them:
            # never lose them. Nothing is charged; every image comes back inline.
            log.exception("generation %s succeeded but could not be recorded", generation_id)
            try:
                await asyncio.shield(
                    _finish_failed(stores, caller, generation_id, "could not be recorded")
                )
            except Exception:
                log.exception("generation %s: could not release its hold either", generation_id)
            return _unrecorded(
                caller, generation_id, valid, result.model_used, outputs, result.images
            )
    except ProviderFailed as failure:
        await _finish_failed(stores, caller, generation_id, failure.detail)
        log.info("generation %s failed at %s: %s", generation_id, provider.name, failure.detail)
        raise ProviderFailed(failure.provider, failure.detail, generation_id) from None
    except BaseException:
        # Cancelled or a bug: release the hold now rather than when it expires.
        await asyncio.shield(_finish_failed(stores, caller, generation_id, "interrupted"))
        raise
    log.info(
        "generation %s: %d references, %s -> %s, %d images, %d credits",
        generation_id,
        len(references),
        valid.model.id,
        result.model_used,
        len(outputs),
        cost,
    )
    # As recorded, plus the inline images that exist only in this response.
    return replace(await get_generation(stores, caller, generation_id), images=outputs)


def _unrecorded(
    caller: Caller,
    generation_id: str,
    valid: _Valid,
    model_used: str,
    outputs: list[OutputImage],
    images: list[bytes],
) -> Generation:
    now = utcnow()
    return Generation(
        id=generation_id,
        owner_id=caller.owner_id,
        space_id=caller.space_id,
        status=GenerationStatus.SUCCEEDED,
        prompt=valid.prompt,
        model_requested=valid.model.id,
        model_used=model_used,
        quality=valid.quality,
        size=valid.size,
        n=valid.n,
        reference_ids=valid.reference_ids,
        images=[replace(o, media_id=None, inline=images[o.index]) for o in outputs],
        cost=0,
        failure=None,
        warning="the images could not be recorded; they are included inline (base64) in this "
        "response only - save them now (nothing was charged)",
        created_at=now,
        completed_at=now,
    )


# Reading back ---------------------------------------------------------------


def _aware(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we write is UTC.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


async def _to_generation(
    stores: Stores, session: AsyncSession, row: GenerationRecord
) -> Generation:
    prompt = await stores.vault.decrypt(
        session,
        owner_id=row.owner_id,
        table="generation",
        field="prompt",
        row_id=row.id,
        blob=row.prompt_ct,
    )
    status = GenerationStatus(row.status)
    failure = row.failure
    created = _aware(row.created_at)
    if status is GenerationStatus.PENDING and created < utcnow() - timedelta(
        seconds=stores.generation.hold_ttl_s
    ):
        # Its server stopped mid-call; the hold has lapsed and nothing was charged.
        status, failure = GenerationStatus.FAILED, "interrupted"
    return Generation(
        id=row.id,
        owner_id=row.owner_id,
        space_id=row.space_id,
        status=status,
        prompt=str(prompt),
        model_requested=row.model_requested,
        model_used=row.model_used,
        quality=Quality(row.quality),
        size=Size(row.size),
        n=row.n,
        reference_ids=list(row.reference_ids),
        images=[
            OutputImage(
                index=int(o["index"]),
                content_type=str(o["contentType"]),
                width=int(o["width"]),
                height=int(o["height"]),
                media_id=str(o["mediaId"]),
            )
            for o in row.outputs
        ],
        cost=row.credits_charged,
        failure=failure,
        warning=row.warning,
        created_at=created,
        completed_at=_aware(row.completed_at) if row.completed_at else None,
    )


async def get_generation(stores: Stores, caller: Caller, generation_id: str) -> Generation:
    async with stores.db.session() as session:
        row = (
            await session.execute(
                select(GenerationRecord).where(
                    GenerationRecord.id == generation_id,  # type: ignore[arg-type]
                    GenerationRecord.owner_id == caller.owner_id,  # type: ignore[arg-type]
                    GenerationRecord.space_id == caller.space_id,  # type: ignore[arg-type]
                )
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound("Generation")
        return await _to_generation(stores, session, row)


async def list_generations(
    stores: Stores, caller: Caller, first: int = 20, after: str | None = None
) -> list[Generation]:
    """Newest first; `after` is the id of the last generation of the previous page."""
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(f"first is between 1 and {MAX_PAGE}", field="first")
    query = (
        select(GenerationRecord)
        .where(
            GenerationRecord.owner_id == caller.owner_id,  # type: ignore[arg-type]
            GenerationRecord.space_id == caller.space_id,  # type: ignore[arg-type]
        )
        .order_by(GenerationRecord.created_at.desc(), GenerationRecord.id.desc())  # type: ignore[attr-defined]
        .limit(first)
    )
    async with stores.db.session() as session:
        if after is not None:
            cursor = (
                await session.execute(
                    select(GenerationRecord.created_at, GenerationRecord.id).where(  # type: ignore[call-overload]
                        GenerationRecord.id == after,
                        GenerationRecord.owner_id == caller.owner_id,
                        GenerationRecord.space_id == caller.space_id,
                    )
                )
            ).first()
            if cursor is None:
                raise InvalidInput("unknown cursor", field="after")
            query = query.where(
                tuple_(GenerationRecord.created_at, GenerationRecord.id) < tuple_(*cursor)
            )
        rows = (await session.execute(query)).scalars().all()
        return [await _to_generation(stores, session, row) for row in rows]
