// Where the shared models and photos live (never committed): $SHITU_SHARED_DIR,
// else ../shared beside the checkout. Exported to the
// environment so models/standin.yaml and child processes find the same place.
import * as path from 'node:path';
import { useSharedDir } from '../../bench/lib/shared-dir';

const found = useSharedDir();
if (!found) throw new Error('shared models and photos not found: set SHITU_SHARED_DIR');
export const SHARED = found;
export const IMAGES = path.join(SHARED, 'data', 'images');
export const MODELS = path.join(SHARED, 'models');
export const STANDIN_CONFIG = path.resolve(__dirname, '..', '..', 'models', 'standin.yaml');
export const img = (...p: string[]) => path.join(IMAGES, ...p);
