// Cancellation of an evaluation or a check through an AbortSignal: checked
// between images, so a cancelled run stops within one recognition per slot.
import { ShituError, ShituErrorCode } from '../errors';

// 'ERR_ABORTED' is the code the pipeline's own cancellation uses (issue on admission); cast until it is in ShituErrorCode.
export const cancelled = () => new ShituError('ERR_ABORTED' as ShituErrorCode, 'cancelled');

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled();
}
