// One way to name where in a document a value is wrong, for every validator
// (the pipeline config, model cards, HTTP bodies): a JSON pointer as TypeBox and
// Ajv report it ("/SubModules/Detection/batch_size", "/imageLabelPairs/2/image")
// written the way a user types it ("SubModules.Detection.batch_size",
// "imageLabelPairs[2].image"), and the offending value as it would be written.

/** "/a/b/2/c" -> "a.b[2].c"; `extra` (a missing property) is appended; `root` names the empty path. */
export function pointerToKey(pointer: string, root = '(root)', extra?: string): string {
  const parts = pointer.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || root;
}

/** A value as an error message shows it: numbers plainly, everything else as JSON. */
export function describeValue(v: unknown): string {
  return typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v);
}
