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

function failed(answer: Answer): boolean {
  if (answer.__typename === 'MeImage' || answer.__typename === 'DeletedMeImage') return false;
  const reason =
    answer.code === 'NOT_FOUND' ? t('error.notFound') : t('error.invalid', { message: answer.message ?? '' });
  notice.show(t('error.action', { reason }), 'error');
  return true;
}

async function attempt<T>(work: () => Promise<T>): Promise<T | null> {
  try {
    return await work();
  } catch (error) {
    notice.show(t('error.action', { reason: requestErrorText(error) }), 'error');
    return null;
  }
}

export async function setAiReference(pool: Pool, image: Image, enabled: boolean): Promise<void> {
  const data = await attempt(() => mutate(SetAiReferenceEnabledDocument, { id: image.id, enabled }));
  const answer = data?.setAiReferenceEnabled;
  if (!answer || failed(answer)) return;
  if (answer.__typename === 'MeImage') pool.upsert(answer);
}

export async function setPrimary(pool: Pool, image: Image, slot: PrimarySlot | null): Promise<void> {
  const data = await attempt(() => mutate(SetPrimaryDocument, { id: image.id, slot }));
  const answer = data?.setPrimary;
  if (!answer || failed(answer)) return;
  if (answer.__typename === 'MeImage') pool.upsert(answer);
}

export async function updateImage(pool: Pool, image: Image, input: UpdateMeImageInput): Promise<boolean> {
  const data = await attempt(() => mutate(UpdateMeImageDocument, { id: image.id, input }));
  const answer = data?.updateMeImage;
  if (!answer || failed(answer)) return false;
  if (answer.__typename === 'MeImage') pool.upsert(answer);
  notice.show(t('edit.saved'));
  return true;
}

export async function deleteImage(pool: Pool, image: Image): Promise<void> {
  const data = await attempt(() => mutate(DeleteMeImageDocument, { id: image.id }));
  const answer = data?.deleteMeImage;
  if (!answer || failed(answer)) return;
  pool.remove(image.id);
}

export async function setGlobalConsent(pool: Pool, enabled: boolean): Promise<void> {
  const data = await attempt(() => mutate(SetAiUsesReferenceImagesDocument, { enabled }));
  if (data) pool.setProfile(data.setAiUsesReferenceImages);
}
