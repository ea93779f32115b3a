// Each image embedded once per run: images are read once, named by the SHA-256
// of their bytes, and a second image with the same bytes (a copied gallery
// photo, the same query listed twice, a query that is also in the gallery)
// reuses the first one's detection and features.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { ShituError } from '../errors';

export function contentHash(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** The bytes of an image path (or the bytes themselves), with their hash. */
export async function readImage(image: string | Uint8Array): Promise<{ bytes: Buffer; hash: string }> {
  let bytes: Buffer;
  if (typeof image === 'string') {
    try {
      bytes = await fs.promises.readFile(image);
    } catch (e) {
      throw new ShituError('ERR_IMAGE_MISSING', `cannot read ${image}: ${(e as Error).message}`, { cause: e });
    }
  } else {
    bytes = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  }
  return { bytes, hash: contentHash(bytes) };
}

/** Memoises an async computation by key; a failed one is kept too (the same bytes fail the same way). */
export class EmbedCache<T> {
  private readonly memo = new Map<string, Promise<T>>();
  hits = 0;
  misses = 0;

  get(key: string, compute: () => Promise<T>): Promise<T> {
    const known = this.memo.get(key);
    if (known) {
      this.hits++;
      return known;
    }
    this.misses++;
    const p = compute();
    p.catch(() => undefined); // the caller awaiting it sees the failure
    this.memo.set(key, p);
    return p;
  }
}
