// A gallery folder picked in the page: its images and the label file beside
// them, in the format the CLI and PaddleX read ("relative/path<TAB or space>label",
// labels may contain spaces, blank and # lines ignored).

export const IMAGE_EXT_RE = /\.(jpe?g|png|bmp|webp|tiff?|gif|jp2|pbm|pgm|ppm|pnm|sr|ras|exr|hdr|pic)$/i;

export interface LabelLine {
  path: string;
  label: string;
}

export function parseLabelFile(text: string): LabelLine[] {
  const out: LabelLine[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (m) out.push({ path: normalise(m[1]), label: m[2].trim() });
  }
  return out;
}

function normalise(p: string): string {
  return p.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+/g, '/');
}

export interface FolderItem {
  file: File;
  /** The path inside the picked folder. */
  relPath: string;
  /** Undefined when the label file does not list the image. */
  label?: string;
}

export interface FolderContent {
  items: FolderItem[];
  /** The label file used (path inside the folder), if any. */
  labelFile?: string;
}

/**
 * Pairs the images of a picked folder (files with webkitRelativePath) with the
 * lines of its label file: the .txt file whose paths match the most images.
 * A line's path is relative to the label file's folder or to the picked folder.
 */
export async function readFolder(files: File[]): Promise<FolderContent> {
  const rel = (f: File) => normalise(f.webkitRelativePath || f.name);
  // The picked folder's own name is the first path component: drop it.
  const inside = (f: File) => rel(f).split('/').slice(1).join('/') || f.name;
  // In path order, so that ids follow the folder's layout.
  const images = files.filter((f) => IMAGE_EXT_RE.test(f.name)).sort((a, b) => (inside(a) < inside(b) ? -1 : inside(a) > inside(b) ? 1 : 0));
  const byPath = new Map(images.map((f) => [inside(f), f]));
  let best: { labelFile: string; labels: Map<File, string>; hits: number } | undefined;
  for (const f of files.filter((x) => /\.txt$/i.test(x.name))) {
    const where = inside(f).split('/').slice(0, -1).join('/');
    const lines = parseLabelFile(await f.text());
    const labels = new Map<File, string>();
    for (const { path, label } of lines) {
      const img = byPath.get(where ? `${where}/${path}` : path) ?? byPath.get(path);
      if (img) labels.set(img, label);
    }
    if (labels.size && (!best || labels.size > best.hits)) best = { labelFile: inside(f), labels, hits: labels.size };
  }
  return {
    labelFile: best?.labelFile,
    items: images.map((file) => ({ file, relPath: inside(file), label: best?.labels.get(file) })),
  };
}
