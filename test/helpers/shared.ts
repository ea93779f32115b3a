// Where the shared models and photos live (never committed): ../shared beside
// the checkout, or $SHITU_SHARED_DIR.
import * as path from 'node:path';

export const SHARED = process.env.SHITU_SHARED_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared');
export const IMAGES = path.join(SHARED, 'data', 'images');
export const MODELS = path.join(SHARED, 'models');
export const STANDIN_CONFIG = path.resolve(__dirname, '..', '..', 'models', 'standin.yaml');
export const img = (...p: string[]) => path.join(IMAGES, ...p);
