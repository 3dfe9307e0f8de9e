// The person's pool as this page knows it: loaded once, then kept current by the
// meImageEvents stream (which also carries changes made in other tabs and devices).
import type { Client as WsClient } from 'graphql-ws';
import { stringifyDocument } from '@urql/core';
import {
  EventCursorDocument,
  MeImageEventsDocument,
  PoolDocument,
  type ImageFieldsFragment,
  type MeImageEventsSubscription,
  type PoolQuery,
  type PrimarySlot,
} from '../generated/graphql';
import { auth } from './auth.svelte';
import { createLiveClient, freshQuery, query, type LiveState } from './client';

export type Image = ImageFieldsFragment;
export type Profile = PoolQuery['profile'];

const SLOT_ORDER: Record<PrimarySlot, number> = { FACE_REF: 0, BODY_REF: 1, AVATAR: 2 };

/** Newest first, as the API lists them; kept for images added or changed live. */
export function newestFirst(a: Image, b: Image): number {
  return a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1;
}

/** When an image state was made, in microseconds (the API's `updatedAt` has them; a Date
 * keeps milliseconds only); NaN where it cannot be read, which compares as not older. */
function changedAt(image: Image): number {
  const [, seconds, fraction = '', zone = ''] = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6})\d*)?(.*)$/.exec(image.updatedAt) ?? [];
  if (seconds === undefined) return Number.NaN;
  return Date.parse(seconds + zone) * 1000 + Number(fraction.padEnd(6, '0'));
}

/** Primary holders first (face, body, avatar), then newest first. */
export function primariesFirst(a: Image, b: Image): number {
  const sa = a.primaryFor ? SLOT_ORDER[a.primaryFor] : 9;
  const sb = b.primaryFor ? SLOT_ORDER[b.primaryFor] : 9;
  return sa !== sb ? sa - sb : newestFirst(a, b);
}

type Event = Extract<MeImageEventsSubscription['meImageEvents'], { __typename: 'MeImageEvent' }>;

export class Pool {
  images = $state<Image[]>([]);
  profile = $state<Profile | null>(null);
  loading = $state(true);
  loadError = $state('');
  live = $state<LiveState>('connecting');

  #cursor = '';
  #ws: WsClient | null = null;
  #unsubscribe: (() => void) | null = null;
  #refetches = 0;
  // Profile answers are applied in the order their requests were sent: an answer made
  // before a change (a charge, the global switch) can arrive after the answer to a request
  // sent after it. Per field, the ticket of the request that last wrote it.
  #profileTickets = 0;
  #profileWrittenBy: Record<string, number> = {};

  holder(slot: PrimarySlot): Image | undefined {
    return this.images.find((image) => image.primaryFor === slot);
  }

  get others(): Image[] {
    return this.images.filter((image) => image.primaryFor === null).sort(newestFirst);
  }

  /** What the generator may offer: opted-in images, none while the global switch is off. */
  get references(): Image[] {
    if (!this.profile?.aiUsesReferenceImages) return [];
    return this.images.filter((image) => image.usage.aiReference).sort(primariesFirst);
  }

  async start(): Promise<void> {
    this.#ws = createLiveClient((state) => (this.live = state));
    await this.#load();
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    // dispose() waits for the connection to close it; one that closed already (between
    // retries, say) rejects with its CloseEvent, which is the end sought here.
    Promise.resolve(this.#ws?.dispose()).catch(() => undefined);
    this.#ws = null;
  }

  /** Cursor first, then the pool, then the stream from that cursor: nothing falls between. */
  async #load(): Promise<void> {
    this.loading = true;
    try {
      this.#cursor = (await query(EventCursorDocument, {})).meImageEventCursor;
      const sent = this.profileTicket();
      const data = await freshQuery(PoolDocument, {});
      this.images = data.meImages;
      this.profile ??= data.profile;
      this.setProfile(data.profile, sent);
      this.loadError = '';
    } catch (error) {
      this.loadError = error instanceof Error ? error.message : String(error);
      return;
    } finally {
      this.loading = false;
    }
    this.#subscribe();
  }

  #subscribe(): void {
    if (!this.#ws) return;
    // graphql-ws sends this payload again after every reconnect; keeping `after` at the
    // newest cursor seen makes the server replay exactly what this page missed.
    const variables = { after: this.#cursor || null };
    const payload = { query: stringifyDocument(MeImageEventsDocument), variables };
    this.#unsubscribe = this.#ws.subscribe<MeImageEventsSubscription>(payload, {
      next: ({ data }) => {
        const item = data?.meImageEvents;
        if (!item) return;
        if (item.__typename === 'MeImageEvent') {
          this.apply(item);
          this.#cursor = item.cursor;
          variables.after = item.cursor;
        } else if (item.__typename === 'AiUsesReferenceImagesEvent') {
          // The global switch, from this tab or any other: the picker and the per-image
          // switches follow it at once.
          this.setProfile({ aiUsesReferenceImages: item.aiUsesReferenceImages });
          this.#cursor = item.cursor;
          variables.after = item.cursor;
        } else if (item.__typename === 'CursorTooOldError') {
          this.#restart();
        } else if (item.__typename === 'TokenExpiredError') {
          auth.refused('expired');
        }
      },
      error: () => {
        this.live = 'reconnecting';
      },
      complete: () => {},
    });
  }

  /** The cursor fell out of the retention window: refetch everything, subscribe again. */
  #restart(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#refetches++ < 5) void this.#load();
  }

  /** Events carry the image as the change left it, so applying one twice is harmless. */
  apply(event: Event): void {
    if (event.type === 'DELETED' || !event.image) {
      this.images = this.images.filter((image) => image.id !== event.imageId);
      return;
    }
    this.upsert(event.image);
  }

  /** A mutation's answer or an event: the image as that change left it (and a claimed slot
   * leaves its old holder). The answer to a change comes over HTTP and its event over the
   * socket, so an event can arrive after the answer to a later change (the ADDED event after
   * the answer that switched AI use on, say): a state older than the one held is dropped, or
   * it would undo the newer one for as long as the next event takes. */
  upsert(image: Image): void {
    const held = this.images.find((existing) => existing.id === image.id);
    if (held && changedAt(image) < changedAt(held)) return;
    const others = this.images.map((existing) =>
      image.primaryFor && existing.id !== image.id && existing.primaryFor === image.primaryFor
        ? { ...existing, primaryFor: null }
        : existing,
    );
    const at = others.findIndex((existing) => existing.id === image.id);
    if (at >= 0) others[at] = image;
    else others.push(image);
    this.images = others;
  }

  /** How a person tells this image apart: its label, else its kind and place in the pool. */
  nameOf(image: Image, kindName: string): string {
    if (image.label) return image.label;
    const same = this.images.filter((other) => other.kind === image.kind).sort(newestFirst).reverse();
    return `${kindName} ${same.findIndex((other) => other.id === image.id) + 1}`;
  }

  remove(id: string): void {
    this.images = this.images.filter((image) => image.id !== id);
  }

  /** Taken just before sending a request whose answer carries profile fields. */
  profileTicket(): number {
    return ++this.#profileTickets;
  }

  /** Profile fields from an answer to the request sent with `ticket` (an event's, by
   * default: the newest word); a field that a later-sent request's answer wrote is kept. */
  setProfile(patch: Partial<Profile>, ticket = this.profileTicket()): void {
    if (!this.profile) return;
    const newer = Object.entries(patch).filter(([field]) => ticket >= (this.#profileWrittenBy[field] ?? 0));
    for (const [field] of newer) this.#profileWrittenBy[field] = ticket;
    this.profile = { ...this.profile, ...(Object.fromEntries(newer) as Partial<Profile>) };
  }
}
