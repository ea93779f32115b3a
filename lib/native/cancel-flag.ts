// Cancel flags for the native calls (native/cancel.h): an Int32Array over a
// SharedArrayBuffer that the native job reads with an atomic load at its stage
// boundaries (after decoding, after detection, before each feature batch,
// before an index changes) and, once it is non-zero, rejects with ERR_ABORTED.
// A SharedArrayBuffer, because the job reads it from the addon's own thread
// while JS may set it at any time, and because it can never be detached.
//
// Internal: the public API takes an AbortSignal (lib/pipeline); this is what is
// handed to native as the `cancel` option of recognize, detect, embed and
// VectorIndex add/remove.

/** A fresh, unset flag. */
export function createCancelFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** Sets the flag: running native work stops at its next stage boundary. */
export function setCancelFlag(flag: Int32Array): void {
  Atomics.store(flag, 0, 1);
}
