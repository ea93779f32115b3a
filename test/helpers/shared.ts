// Where the shared models and photos live (never committed): $SHITU_SHARED_DIR,
// else ../shared beside the checkout, else /work/shared. Exported to the
// environment so models/standin.yaml and child processes find the same place.
import * as fs from 'node:fs';
import * as path from 'node:path';

function findShared(): string {
  if (process.env.SHITU_SHARED_DIR) return process.env.SHITU_SHARED_DIR;
  for (const p of [path.resolve(__dirname, '..', '..', '..', 'shared'), '/work/shared'])
    if (fs.existsSync(path.join(p, 'models'))) return p;
  throw new Error('shared models and photos not found: set SHITU_SHARED_DIR');
}

export const SHARED = findShared();
process.env.SHITU_SHARED_DIR = SHARED;
export const IMAGES = path.join(SHARED, 'data', 'images');
export const MODELS = path.join(SHARED, 'models');
export const STANDIN_CONFIG = path.resolve(__dirname, '..', '..', 'models', 'standin.yaml');
export const img = (...p: string[]) => path.join(IMAGES, ...p);
