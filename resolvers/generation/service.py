"""generateWithReference: consent, credits, the provider call, and keeping the results.

The order matters:
1. validate the input, find a configured provider (one that takes a mask, if a mask was
   given), and check that it is on the server's and the owner's allowlist of recipients
   (nothing is read before that);
2. lapse the owner's timed consents that have come due, check consent and read + clean
   the references, and prepare the mask to the first one's size (no row written yet);
3. in one short transaction under the owner lock: check consent and the allowlists
   again (this is the send-time check - toggles take the same lock; an `until` is
   compared with the clock), check credits and hold them by writing the pending
   generation;
4. call the provider with no transaction open;
5. store the outputs as the caller's `picture` media (inline base64 if that fails);
6. in one transaction: charge exactly once (unique per generation), finish the row and
   write the usage ledger (one row per reference, whatever the outcome of the send).

While steps 4-6 run, the call renews the row's heartbeat; the sweeper fails a pending
generation whose heartbeat went stale (its process died) and so releases its hold.

With an idempotency key, the first call that reaches step 3 writes the key with the row
(unique per owner, space and key); every other call with that key returns the first one's
outcome instead of calling the provider: the generation (SUCCEEDED, or PENDING while the
first call still runs) or its ProviderFailed. The same key with another input is refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

from resolvers import rate_limits
from resolvers.errors import InvalidInput, NotFound, TooLarge
from resolvers.generation import credits
from resolvers.generation.errors import (
    InsufficientCredits,
    MaskNotSupported,
    ProviderFailed,
    ReferenceNotUsable,
)
from resolvers.generation.history import (
    Generation,
    OutputImage,
    get_generation,
    to_generation,
)
from resolvers.generation.ledger import Sending
from resolvers.generation.outputs import keep_outputs, output_json
from resolvers.generation.pricing import catalogue, cost_of, hold_for
from resolvers.generation.providers import ImageProvider, ImageRequest
from resolvers.generation.recipients import check_allowed, recipient_of
from resolvers.generation.references import (
    UnreadableReference,
    UnusableMask,
    clean_reference_png,
    png_size,
    prepare_mask,
)
from resolvers.generation.registry import provider_for
from resolvers.generation.requests import GenerationRequest, ValidRequest, validate
from resolvers.media.uploads import get_media
from resolvers.pool import consent
from resolvers.stores import Caller, Stores
from storage.repositories import UnitOfWork
from storage.repositories.generations import IdempotencyKeyTaken
from storage.tables import (
    GenerationEncrypted,
    GenerationRecord,
    GenerationStatus,
    UseOutcome,
    utcnow,
)

log = logging.getLogger("meimages.generation")


async def _check_consent(
    stores: Stores, tx: UnitOfWork, caller: Caller, reference_ids: Sequence[str]
) -> dict[str, str]:
    """Image id -> media id of the references; ReferenceNotUsable unless AI may use each
    now (an opt-in past its `until` counts as off, lapsed in the log yet or not)."""
    usable = await tx.pool.usable_references(
        caller.owner_id, caller.space_id, reference_ids, stores.clock.now()
    )
    refused = [i for i in reference_ids if i not in usable]
    if refused:
        raise ReferenceNotUsable(refused)
    return usable


async def _reference_paths(stores: Stores, caller: Caller, valid: ValidRequest) -> dict[str, str]:
    """Consent, then where each reference's bytes are stored."""
    async with stores.reading() as read:
        usable = await _check_consent(stores, read, caller, valid.reference_ids)
        paths: dict[str, str] = {}
        for image_id in valid.reference_ids:
            try:
                media = await get_media(read, caller, usable[image_id])
            except NotFound:
                raise ReferenceNotUsable([image_id]) from None
            paths[image_id] = media.storage_path
    return paths


async def _clean_reference(stores: Stores, caller: Caller, image_id: str, path: str) -> bytes:
    data = await stores.sealed.get(caller.owner_id, path)
    if data is None:
        raise ReferenceNotUsable([image_id])
    try:
        return await asyncio.to_thread(
            clean_reference_png,
            data,
            long_side=stores.config.generation.reference_long_side,
            max_pixels=stores.config.limits.max_image_pixels,
        )
    except UnreadableReference:
        raise ReferenceNotUsable([image_id]) from None


async def _prepare_mask(stores: Stores, mask: bytes, first_reference: bytes) -> bytes:
    """The mask scaled to the first prepared reference; InvalidInput on `mask` if unusable."""
    try:
        return await asyncio.to_thread(
            prepare_mask,
            mask,
            png_size(first_reference),
            max_pixels=stores.config.limits.max_image_pixels,
        )
    except UnusableMask as unusable:
        raise InvalidInput(str(unusable), field="mask") from None


async def _prepare(
    stores: Stores, caller: Caller, valid: ValidRequest
) -> tuple[list[bytes], bytes | None]:
    """Consent, then the references' bytes as clean PNGs and the mask that goes with the
    first one; writes nothing."""
    paths = await _reference_paths(stores, caller, valid)
    references = [await _clean_reference(stores, caller, i, paths[i]) for i in valid.reference_ids]
    mask = None
    if valid.mask is not None:
        mask = await _prepare_mask(stores, valid.mask, references[0])
    total = sum(len(png) for png in references) + len(mask or b"")
    limit = stores.config.generation.max_request_bytes
    if total > limit:
        raise TooLarge(
            f"the references come to {total} bytes as PNG; one request may carry {limit}",
            limit,
        )
    return references, mask


async def _keyed(tx: UnitOfWork, caller: Caller, key: str) -> str | None:
    """Id of the caller's generation (in this space) made with this idempotency key."""
    return await tx.generations.keyed(caller.owner_id, caller.space_id, key)


async def _admit(stores: Stores, caller: Caller, sending: Sending) -> None:
    """Before anything is read: the recipient must be on both allowlists. Timed consents
    that have come due are lapsed now, so the refusal that follows is also logged."""
    async with stores.reading() as read:
        owner = await read.owners.get(caller.owner_id)
    check_allowed(
        stores.config.generation, owner.allowed_providers if owner else None, sending.recipient
    )
    if owner is not None and consent.is_due(owner.consent_lapses_at, stores.clock.now()):
        await consent.lapse_due(stores, caller.owner_id)


async def _reserve(
    stores: Stores, caller: Caller, valid: ValidRequest, sending: Sending, mask: bytes | None
) -> tuple[str, bool]:
    """The send-time consent check and the credit hold, in one transaction.

    Returns the generation id and whether this call made it: False when an earlier call
    with the same idempotency key did (that one's outcome is the answer)."""
    try:
        return await _reserve_once(stores, caller, valid, sending, mask)
    except IdempotencyKeyTaken:
        # Another instance inserted the same key between our check and our insert; the
        # unique index kept it to one row. Find that row (it is committed by now).
        if valid.idempotency_key is None:
            raise
        async with stores.reading() as read:
            earlier = await _keyed(read, caller, valid.idempotency_key)
        if earlier is None:
            raise
        return earlier, False


def _pending_record(caller: Caller, valid: ValidRequest, hold: int) -> GenerationRecord:
    now = utcnow()
    return GenerationRecord(
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


async def _reserve_once(
    stores: Stores, caller: Caller, valid: ValidRequest, sending: Sending, mask: bytes | None
) -> tuple[str, bool]:
    hold = hold_for(valid.model, valid.quality, valid.n)
    async with stores.transaction() as tx:
        owner = await tx.owners.lock(caller.owner_id)
        if valid.idempotency_key is not None:
            earlier = await _keyed(tx, caller, valid.idempotency_key)
            if earlier is not None:
                return earlier, False
        check_allowed(stores.config.generation, owner.allowed_providers, sending.recipient)
        await _check_consent(stores, tx, caller, valid.reference_ids)
        await credits.ensure_welcome(tx, caller.owner_id, stores.config.generation)
        have = await credits.available(tx, caller.owner_id, stores.config.generation)
        if have < hold:
            raise InsufficientCredits(required=hold, available=max(have, 0))
        record = _pending_record(caller, valid, hold)
        # The input hash only with a key: it is what a retry with that key must repeat.
        input_hash = valid.input_hash if valid.idempotency_key is not None else None
        # The mask as it is sent, kept encrypted like the prompt.
        kept_mask = base64.b64encode(mask).decode() if mask is not None else None
        await tx.generations.insert(
            record, GenerationEncrypted(valid.prompt, input_hash, kept_mask)
        )
        return record.id, True


async def _replay(
    stores: Stores, caller: Caller, generation_id: str, valid: ValidRequest
) -> Generation:
    """The outcome of the earlier call with the same key, if the input is the same."""
    async with stores.reading() as read:
        row = await read.generations.get(generation_id)
        if row is None:
            raise NotFound("Generation")
        if (await read.generations.open(row)).input_hash != valid.input_hash:
            raise InvalidInput(
                "this idempotencyKey was already used with a different input (prompt, "
                "references, model, quality, size or n); use a new key for a new generation",
                field="idempotencyKey",
            )
        generation = await to_generation(stores, read, row)
    if generation.status is GenerationStatus.FAILED:
        model = catalogue(stores.config.generation).get(generation.model_requested)
        raise ProviderFailed(
            model.provider.value if model else "unknown",
            generation.failure or "failed",
            generation.id,
        )
    return generation


async def renew(stores: Stores, generation_id: str) -> None:
    """One heartbeat: the call of this pending generation is still running."""
    async with stores.transaction() as tx:
        await tx.generations.renew(generation_id, utcnow())


@asynccontextmanager
async def _kept_alive(stores: Stores, generation_id: str) -> AsyncIterator[None]:
    """Renew the heartbeat while the body runs, so the sweeper leaves the hold alone."""
    config = stores.config.generation

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


async def _finish_failed(
    stores: Stores,
    caller: Caller,
    generation_id: str,
    detail: str,
    sent: tuple[Sending, str, UseOutcome] | None = None,
) -> None:
    """Fail the pending generation; `sent` (what, with which model, how it ended) when
    the references may have left, for the usage ledger."""
    async with stores.transaction() as tx:
        await tx.owners.lock(caller.owner_id)
        record = await tx.generations.get(generation_id)
        if record is not None and record.status == GenerationStatus.PENDING.value:
            now = utcnow()
            record.status = GenerationStatus.FAILED.value
            record.failure = detail[:300]
            record.credits_held = 0
            record.completed_at = now
            tx.generations.save(record)
            if sent is not None:
                sending, model, outcome = sent
                tx.uses.record(sending.rows(caller, generation_id, model, outcome, now))


async def _finish_succeeded(
    stores: Stores,
    caller: Caller,
    generation_id: str,
    valid: ValidRequest,
    sending: Sending,
    model_used: str,
    outputs: list[OutputImage],
    warning: str | None,
) -> int:
    cost = cost_of(model_used, valid.quality, len(outputs), catalogue(stores.config.generation))
    async with stores.transaction() as tx:
        await tx.owners.lock(caller.owner_id)
        record = await tx.generations.get(generation_id)
        if record is None or record.status != GenerationStatus.PENDING.value:
            raise RuntimeError(f"generation {generation_id} is no longer pending")
        await tx.credits.add(credits.charge_entry(caller.owner_id, generation_id, cost))
        record.status = GenerationStatus.SUCCEEDED.value
        record.model_used = model_used
        record.outputs = output_json(outputs)
        record.credits_held = 0
        record.credits_charged = cost
        record.warning = warning
        record.completed_at = utcnow()
        tx.generations.save(record)
        tx.uses.record(
            sending.rows(
                caller, generation_id, model_used, UseOutcome.SUCCEEDED, record.completed_at
            )
        )
    return cost


async def generate_with_reference(
    stores: Stores, caller: Caller, request: GenerationRequest
) -> Generation:
    valid = validate(
        request,
        catalogue(stores.config.generation),
        max_mask_bytes=stores.config.limits.max_upload_bytes,
    )
    if valid.idempotency_key is not None:
        # A retry: answer from the first call without preparing anything.
        async with stores.reading() as read:
            earlier = await _keyed(read, caller, valid.idempotency_key)
        if earlier is not None:
            return await _replay(stores, caller, earlier, valid)
    # A replay above is the first call's outcome and counts once; every new call counts.
    await rate_limits.consume(stores, caller, rate_limits.Act.GENERATION)
    provider: ImageProvider = provider_for(stores.config.generation, valid.model)
    if valid.mask is not None and not provider.accepts_mask(valid.model.id):
        raise MaskNotSupported(provider.name, valid.model.id)
    sending = Sending(recipient_of(stores.config.generation, valid.model), valid.reference_ids)
    await _admit(stores, caller, sending)
    references, mask = await _prepare(stores, caller, valid)
    generation_id, fresh = await _reserve(stores, caller, valid, sending, mask)
    if not fresh:
        return await _replay(stores, caller, generation_id, valid)
    async with _kept_alive(stores, generation_id):
        return await _run(stores, caller, valid, provider, references, mask, generation_id, sending)


async def _run(
    stores: Stores,
    caller: Caller,
    valid: ValidRequest,
    provider: ImageProvider,
    references: list[bytes],
    mask: bytes | None,
    generation_id: str,
    sending: Sending,
) -> Generation:
    """Steps 4-6 for a reserved generation."""
    started = time.monotonic()
    try:
        result = await provider.generate(
            ImageRequest(
                model=valid.model,
                prompt=valid.prompt,
                size=valid.size,
                quality=valid.quality,
                n=valid.n,
                references=references,
                mask=mask,
            )
        )
        if not result.images:
            raise ProviderFailed(provider.name, "the reply contained no image")
        outputs, warning, signed = await keep_outputs(
            stores, caller, provider.name, result.model_used, result.images
        )
        try:
            cost = await _finish_succeeded(
                stores, caller, generation_id, valid, sending, result.model_used, outputs, warning
            )
        except Exception:
            log.exception("generation %s succeeded but could not be recorded", generation_id)
            sent = (sending, result.model_used, UseOutcome.SUCCEEDED)
            await _release_unrecorded(stores, caller, generation_id, sent)
            return _unrecorded(
                caller, generation_id, valid, result.model_used, outputs, signed, mask
            )
    except ProviderFailed as failure:
        stores.observer.generation_finished(
            provider.name, valid.model.id, "failed", time.monotonic() - started, 0
        )
        sent = (sending, valid.model.id, UseOutcome.FAILED)
        await _finish_failed(stores, caller, generation_id, failure.detail, sent)
        log.info("generation %s failed at %s: %s", generation_id, provider.name, failure.detail)
        raise ProviderFailed(failure.provider, failure.detail, generation_id) from None
    except BaseException:
        # Cancelled or a bug: release the hold now rather than when it expires.
        sent = (sending, valid.model.id, UseOutcome.INTERRUPTED)
        await asyncio.shield(_finish_failed(stores, caller, generation_id, "interrupted", sent))
        raise
    stores.observer.generation_finished(
        provider.name, valid.model.id, "succeeded", time.monotonic() - started, cost
    )
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


async def _release_unrecorded(
    stores: Stores, caller: Caller, generation_id: str, sent: tuple[Sending, str, UseOutcome]
) -> None:
    """The provider produced (and billed) the images but we could not record them: never
    lose them. Nothing is charged (the hold is released); every image comes back inline."""
    try:
        await asyncio.shield(
            _finish_failed(stores, caller, generation_id, "could not be recorded", sent)
        )
    except Exception:
        log.exception("generation %s: could not release its hold either", generation_id)


def _unrecorded(
    caller: Caller,
    generation_id: str,
    valid: ValidRequest,
    model_used: str,
    outputs: list[OutputImage],
    images: list[bytes],
    mask: bytes | None,
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
        mask=mask,
    )
