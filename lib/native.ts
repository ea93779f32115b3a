// Loads the compiled addon. Its ONNX Runtime library sits beside it and is found
// through the addon's rpath ($ORIGIN), so no LD_LIBRARY_PATH is needed.
// SHITU_ADDON_PATH overrides the location (used for alternative builds).
import * as path from 'node:path';
import * as fs from 'node:fs';

const candidates = [
  process.env.SHITU_ADDON_PATH,
  path.join(__dirname, '..', 'build', 'Release', 'shitu.node'),
  path.join(__dirname, '..', '..', 'build', 'Release', 'shitu.node'),
  path.join(__dirname, '..', 'build-gyp', 'Release', 'shitu.node'),
].filter((p): p is string => typeof p === 'string' && p.length > 0);

function load(): any {
  // FAISS's OpenMP threads otherwise busy-wait between parallel regions, beside
  // ONNX Runtime's pools. Read by libgomp when the addon loads it.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  for (const p of candidates) {
    if (fs.existsSync(p)) return require(p);
  }
  const err = new Error(
    `shitu-node native addon not found (looked in ${candidates.join(', ')}); run "npm run setup" to build it`,
  );
  (err as any).code = 'ERR_NATIVE_MISSING';
  throw err;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const native: any = load();
