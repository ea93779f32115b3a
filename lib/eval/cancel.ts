// Cancellation of an evaluation or a check through an AbortSignal: checked
// between images, and handed to the pipeline's calls (their queued jobs are
// dropped at once, running ones stop at their next boundary).
import { ShituError } from '../errors';

// ERR_ABORTED: the code of the pipeline's own cancellation (lib/pipeline/cancel.ts).
export const cancelled = () => new ShituError('ERR_ABORTED', 'cancelled');

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled();
}
