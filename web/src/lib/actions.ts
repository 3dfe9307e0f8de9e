// What a person can do to an image; each calls one mutation and puts its answer in the pool.
import {
  DeleteMeImageDocument,
  SetAiReferenceEnabledDocument,
  SetAiUsesReferenceImagesDocument,
  SetPrimaryDocument,
  UpdateMeImageDocument,
  type PrimarySlot,
  type UpdateMeImageInput,
} from '../generated/graphql';
import { mutate } from './client';
import { requestErrorText } from './errors';
import { t } from './i18n.svelte';
import { notice } from './notice.svelte';
import type { Image, Pool } from './pool.svelte';

type Answer = { __typename: string; message?: string; code?: string };

// Where a notice about the global switch appears (see notice.svelte.ts).
export const CONSENT_ANCHOR = 'consent';

function failed(answer: Answer, anchor: string): boolean {
  if (answer.__typename === 'MeImage' || answer.__typename === 'DeletedMeImage') return false;
  const reason =
    answer.code === 'NOT_FOUND' ? t('error.notFound') : t('error.invalid', { message: answer.message ?? '' });
  notice.show(t('error.action', { reason }), 'error', anchor);
  return true;
}

async function attempt<T>(work: () => Promise<T>, anchor: string): Promise<T | null> {
  try {
    return await work();
  } catch (error) {
    notice.show(t('error.action', { reason: requestErrorText(error) }), 'error', anchor);
    return null;
  }
}

/** Consent of one image; `until` (ISO time) makes it lapse by itself. */
export async function setAiReference(
  pool: Pool,
  image: Image,
  enabled: boolean,
  until: string | null = null,
): Promise<boolean> {
  const variables = { id: image.id, enabled, until };
  const data = await attempt(() => mutate(SetAiReferenceEnabledDocument, variables), image.id);
  const answer = data?.setAiReferenceEnabled;
  if (!answer || failed(answer, image.id)) return false;
  if (answer.__typename === 'MeImage') pool.upsert(answer);
  return true;
}

export async function setPrimary(pool: Pool, image: Image, slot: PrimarySlot | null): Promise<void> {
  const data = await attempt(() => mutate(SetPrimaryDocument, { id: image.id, slot }), image.id);
  const answer = data?.setPrimary;
  if (!answer || failed(answer, image.id)) return;
  if (answer.__typename === 'MeImage') pool.upsert(answer);
}

export async function updateImage(pool: Pool, image: Image, input: UpdateMeImageInput): Promise<boolean> {
  const data = await attempt(() => mutate(UpdateMeImageDocument, { id: image.id, input }), image.id);
  const answer = data?.updateMeImage;
  if (!answer || failed(answer, image.id)) return false;
  if (answer.__typename === 'MeImage') pool.upsert(answer);
  notice.show(t('edit.saved'), 'info', image.id);
  return true;
}

export async function deleteImage(pool: Pool, image: Image): Promise<void> {
  const data = await attempt(() => mutate(DeleteMeImageDocument, { id: image.id }), image.id);
  const answer = data?.deleteMeImage;
  if (!answer || failed(answer, image.id)) return;
  pool.remove(image.id);
}

export async function setGlobalConsent(pool: Pool, enabled: boolean): Promise<void> {
  const sent = pool.profileTicket();
  const data = await attempt(() => mutate(SetAiUsesReferenceImagesDocument, { enabled }), CONSENT_ANCHOR);
  if (data) pool.setProfile(data.setAiUsesReferenceImages, sent);
}
