// Loads the compiled addon, lazily: `native` is a stand-in that loads it on first
// use, so what needs no native code (`shitu --help`, `--version`, reading a
// config) works without it. Candidates are tried in order and every failure is
// kept, so the error says what was tried and what the user can do (as sharp's
// loader does).
//
// Each candidate is a directory holding shitu.node and, beside it, the ONNX
// Runtime library that native/ort_loader.cc dlopens by absolute path; the
// prebuild also carries libgomp there, found through the addon's rpath
// ($ORIGIN). No LD_LIBRARY_PATH is ever needed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { familySync, GLIBC } from 'detect-libc';
import { ShituError } from '../errors';
import { packageRoot } from '../util/package-root';
import type { Binding } from './binding';

/** The platform this prebuild directory name describes. */
export const PREBUILD_PLATFORM = `${process.platform}-${process.arch}`;
/** The CPUs a Linux (glibc) prebuild is shipped for (scripts/prebuild.sh --arch; package.json "cpu"). */
export const PREBUILT_ARCHES: readonly string[] = ['x64', 'arm64'];

/** Where the addon may be, in the order tried. */
export function addonCandidates(): string[] {
  const root = packageRoot();
  return [
    process.env.SHITU_ADDON_PATH, // an explicit choice wins
    path.join(root, 'build', 'Release', 'shitu.node'), // built from source (npm install --build-from-source, dev checkout)
    path.join(root, 'prebuilds', PREBUILD_PLATFORM, 'shitu.node'), // shipped in the tarball
    path.join(root, 'build-gyp', 'Release', 'shitu.node'), // node-gyp build (CI)
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
}

/** glibc or not, by detect-libc (as sharp does: no process.report, which is slow). */
function isGlibc(): boolean {
  return familySync() === GLIBC;
}

function missingError(tried: { path: string; error: string }[]): ShituError {
  const lines = tried.map((t) => `  - ${t.path}: ${t.error}`);
  const supported = process.platform === 'linux' && PREBUILT_ARCHES.includes(process.arch) && isGlibc();
  const help = supported
    ? [
        'Possible solutions:',
        `- Reinstall the package: npm install shitu-node (the prebuilt binary ships in it, under prebuilds/${PREBUILD_PLATFORM}/, with the libraries beside it)`,
        '- Build it from source: npm install shitu-node --build-from-source (its install script names any missing system package)',
      ]
    : [
        `No prebuilt binary exists for ${PREBUILD_PLATFORM}${process.platform === 'linux' && !isGlibc() ? ' (musl)' : ''}; only ${PREBUILT_ARCHES.map((a) => `linux-${a}`).join(' and ')} with glibc are prebuilt.`,
        'Possible solutions:',
        '- Build it from source: npm install shitu-node --build-from-source (needs cmake, a C++17 compiler, OpenCV, FAISS, FreeType and ONNX Runtime)',
      ];
  return new ShituError(
    'ERR_NATIVE_MISSING',
    ['Could not load the shitu-node native addon. Tried:', ...lines, ...help,
      '- Or point SHITU_ADDON_PATH at a shitu.node you built'].join('\n'),
    { details: tried },
  );
}

let loaded: Binding | undefined;

/** The addon, loaded on first call; throws ShituError ERR_NATIVE_MISSING listing every candidate's failure. */
export function loadNative(): Binding {
  if (loaded) return loaded;
  // FAISS's OpenMP threads otherwise busy-wait between parallel regions, beside
  // ONNX Runtime's pools. Read by libgomp when the addon loads it.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  const tried: { path: string; error: string }[] = [];
  for (const p of addonCandidates()) {
    if (!fs.existsSync(p)) {
      tried.push({ path: p, error: 'not found' });
      continue;
    }
    try {
      loaded = require(p) as Binding;
      // Before the C library's exit() runs static destructors under threads
      // still recognising (process.exit() mid-work crashed with SIGSEGV).
      const addon = loaded;
      process.once('exit', () => addon.stopWorkers?.());
      return loaded;
    } catch (e) {
      tried.push({ path: p, error: (e as Error).message.split('\n')[0] });
    }
  }
  throw missingError(tried);
}

export const native: Binding = new Proxy({} as Binding, {
  get: (_t, key) => loadNative()[key as keyof Binding],
  has: (_t, key) => key in loadNative(),
  ownKeys: () => Reflect.ownKeys(loadNative()),
  getOwnPropertyDescriptor: (_t, key) => {
    const d = Object.getOwnPropertyDescriptor(loadNative(), key);
    return d && { ...d, configurable: true };
  },
});
