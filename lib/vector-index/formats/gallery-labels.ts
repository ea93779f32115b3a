// Gallery label files: "relative/path.jpg label" per line. Fixes the
// reference's faults: tab or space separated, labels may contain spaces,
// blank and '#' lines ignored, paths relative to the gallery root.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../../errors';

export interface GalleryEntry {
  image: string;
  label: string;
}

export function parseGalleryFile(labelFile: string, galleryRoot?: string): GalleryEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(labelFile, 'utf8');
  } catch (e) {
    throw new ShituError('ERR_GALLERY', `cannot read gallery label file ${labelFile}: ${(e as Error).message}`);
  }
  const root = galleryRoot ?? path.dirname(labelFile);
  const out: GalleryEntry[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\uFEFF/, '').trim();
    if (!line || line.startsWith('#')) return;
    // First field = path: up to the first tab if there is one, else the first space.
    const tab = line.indexOf('\t');
    const sep = tab >= 0 ? tab : line.search(/\s/);
    if (sep < 0) {
      problems.push(`line ${i + 1}: no label after the path: ${JSON.stringify(line)}`);
      return;
    }
    const rel = line.slice(0, sep).trim();
    const label = line.slice(sep + 1).trim();
    if (!label) {
      problems.push(`line ${i + 1}: empty label`);
      return;
    }
    out.push({ image: path.resolve(root, rel), label });
  });
  if (problems.length) throw new ShituError('ERR_GALLERY', `gallery label file ${labelFile} has ${problems.length} bad line(s):\n  ${problems.join('\n  ')}`, { details: problems });
  if (!out.length) throw new ShituError('ERR_GALLERY', `gallery label file ${labelFile} lists no images`);
  return out;
}

const IMAGE_EXT = /\.(jpe?g|png|bmp|webp|tiff?)$/i;

/** Every image file under dir (recursively), sorted. */
export function listImages(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (IMAGE_EXT.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}
