import type { MeImageKind, PrimarySlot } from '../generated/graphql';

export const KINDS: readonly MeImageKind[] = ['FACE', 'FULLBODY', 'HALFBODY', 'HANDS', 'REFERENCE'];
export const SLOTS: readonly PrimarySlot[] = ['FACE_REF', 'BODY_REF', 'AVATAR'];

/** The slot a star claims for an image of this kind: faces and full-body shots only. */
export function starSlot(kind: MeImageKind): PrimarySlot | null {
  return kind === 'FACE' ? 'FACE_REF' : kind === 'FULLBODY' ? 'BODY_REF' : null;
}

/** What a photo dropped on a slot card is uploaded as. */
export const SLOT_KIND: Record<PrimarySlot, MeImageKind> = {
  FACE_REF: 'FACE',
  BODY_REF: 'FULLBODY',
  AVATAR: 'FACE',
};
