// The image fields of one body that the JSON worker decoded (json-worker.ts).
// In the parsed body each such field holds a short placeholder instead of its
// Base64 text: this process's random marker and a number. The marker is not
// Base64 (a client's copy of it would be refused as bad Base64) and is
// unknown outside the process; the table of what each placeholder stands for
// lives on its own request (request.decodedImages), so a placeholder means
// nothing to any other request. Validation sees a non-empty string where it saw
// the text; the route's image reader (fetches/request-fetches.ts) takes the
// bytes, or reports why the text was not Base64 at the field the route names,
// exactly as for text decoded on the event loop. For a request with an
// Idempotency-Key the worker also hashes the original text, so that the body's
// hash (idempotency.ts) still stands for the text that was sent.
import { ShituError } from '../../errors';
import type { Base64Result } from './base64';

declare module 'fastify' {
  interface FastifyRequest {
    /** Image fields decoded on the JSON worker, by placeholder (undefined when none). */
    decodedImages?: DecodedImages;
  }
}

export interface DecodedImage {
  result: Base64Result;
  /** SHA-256 (hex) of the field's original text, when asked for. */
  sha256?: string;
}

export class DecodedImages {
  constructor(private readonly byPlaceholder: ReadonlyMap<string, DecodedImage>) {}

  get size(): number { return this.byPlaceholder.size; }

  /** What a field's value stands for; undefined when it is not one of this body's placeholders. */
  result(value: string): Base64Result | undefined {
    return this.byPlaceholder.get(value)?.result;
  }

  /** The SHA-256 of the text a placeholder replaced; undefined when `value` is not a placeholder. */
  sha256(value: string): string | undefined {
    const d = this.byPlaceholder.get(value);
    if (!d) return undefined;
    // The parser asks for digests whenever the request has an Idempotency-Key header.
    if (d.sha256 === undefined) throw new ShituError('ERR_INTERNAL', 'a decoded image field has no digest for the idempotency hash');
    return d.sha256;
  }
}
