// Uploads, one file at a time, each its own uploadMeImage call: a file either becomes a
// MeImage whole or is refused with a reason, so nothing is ever half-added.
import { UploadMeImageDocument, type UploadMeImageInput } from '../generated/graphql';
import { mutate, progressFetch } from './client';
import { requestErrorText, uploadErrorText } from './errors';
import type { Pool } from './pool.svelte';

export type UploadStatus = 'waiting' | 'uploading' | 'processing' | 'done' | 'failed';

export interface UploadItem {
  id: number;
  name: string;
  size: number;
  status: UploadStatus;
  fraction: number;
  /** Why it was not added, in the current language (read at render time). */
  error: (() => string) | null;
}

export class Uploads {
  items = $state<UploadItem[]>([]);
  #serial = 0;
  #queue: Promise<void> = Promise.resolve();

  constructor(private readonly pool: Pool) {}

  get busy(): boolean {
    return this.items.some((item) => item.status === 'waiting' || item.status === 'uploading' || item.status === 'processing');
  }

  /** Queue files; resolves when these are all settled. */
  add(files: Iterable<File>, input: UploadMeImageInput = {}): Promise<UploadItem[]> {
    const added: UploadItem[] = [];
    for (const file of files) {
      const item: UploadItem = {
        id: ++this.#serial,
        name: file.name,
        size: file.size,
        status: 'waiting',
        fraction: 0,
        error: null,
      };
      this.items.push(item);
      const live = this.items[this.items.length - 1] as UploadItem; // the reactive proxy
      added.push(live);
      this.#queue = this.#queue.then(() => this.#upload(live, file, input));
    }
    return this.#queue.then(() => added);
  }

  clearSettled(): void {
    this.items = this.items.filter((item) => item.status !== 'done' && item.status !== 'failed');
  }

  async #upload(item: UploadItem, file: File, input: UploadMeImageInput): Promise<void> {
    item.status = 'uploading';
    const onProgress = (fraction: number): void => {
      item.fraction = fraction;
      if (fraction >= 1) item.status = 'processing';
    };
    try {
      const data = await mutate(UploadMeImageDocument, { file, input }, progressFetch(onProgress));
      const answer = data.uploadMeImage;
      if (answer.__typename === 'MeImage') {
        this.pool.upsert(answer);
        item.fraction = 1;
        item.status = 'done';
      } else {
        item.error = () => uploadErrorText(answer);
        item.status = 'failed';
      }
    } catch (error) {
      item.error = () => requestErrorText(error);
      item.status = 'failed';
    }
  }
}
