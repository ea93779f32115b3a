// Where the shared stand-in models and photos live (they are never part of the
// package): $SHITU_SHARED_DIR, else ../shared beside the package. Used by the
// demo (`shitu demo`), and through bench/lib/shared-dir.ts by the tests and the benchmarks.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from './package-root';

export function findSharedDir(): string | undefined {
  if (process.env.SHITU_SHARED_DIR) return process.env.SHITU_SHARED_DIR;
  const beside = path.resolve(packageRoot(), '..', 'shared');
  return fs.existsSync(path.join(beside, 'models')) ? beside : undefined;
}
