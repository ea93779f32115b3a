// The shared models and photos for the benchmarks and the tests (never part of
// the package, so this is not in lib/): lib's findSharedDir, also exported to
// the environment so that models/standin.yaml and child processes expand
// ${SHITU_SHARED_DIR} to the same place.
import { findSharedDir } from '../../lib/util/shared-dir';

export function useSharedDir(): string | undefined {
  const dir = findSharedDir();
  if (dir) process.env.SHITU_SHARED_DIR = dir;
  return dir;
}
