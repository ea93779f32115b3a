// Cancellation of an evaluation or a check through an AbortSignal: checked
// between images here, and handed to the pipeline's calls, which stop their
// own queued and running work.
import { ShituError } from '../errors';

/** The code the pipeline's own cancellation rejects with (lib/pipeline/cancel.ts). */
export const cancelled = () => new ShituError('ERR_ABORTED', 'cancelled');

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled();
}
