// The shared photos (data/images, every folder), in one sorted order for every section.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SHARED } from './paths';

export const PHOTOS_DIR = path.join(SHARED, 'data', 'images');

export function sharedPhotos(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(jpe?g|png|webp|bmp|tiff?)$/i.test(e.name)) out.push(p);
    }
  };
  walk(PHOTOS_DIR);
  return out;
}
