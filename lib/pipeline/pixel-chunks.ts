// How a gallery is cut into embed calls when its decoded pixels are budgeted
// (buildIndex/appendIndex maxPixelsInFlight; the service sets it): each call
// decodes all its images before embedding them, so the pixels held at once are
// the sum over the call. Sizes come from the container headers (probeImage,
// nothing decoded); an image whose size is not known beforehand (a path, a
// malformed header) goes alone, as does one larger than the budget.
import { native } from '../native/loader';

type Source = string | Uint8Array | { width: number; height: number };

/** Declared pixels of one gallery source, or null when not known without reading or decoding it. */
export function declaredPixels(src: Source): number | null {
  if (typeof src === 'string') return null;
  if (src instanceof Uint8Array) {
    try {
      const h = native.probeImage(src) as { format: string; width?: number; height?: number };
      return h.width && h.height ? h.width * h.height : null;
    } catch {
      return null; // the decoder reports it
    }
  }
  return src.width * src.height;
}

/** Consecutive [start, end) ranges of at most maxImages images and at most `budget` declared pixels each (one image at least). */
export function chunksByPixels(sources: readonly Source[], maxImages: number, budget: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0, sum = 0;
  for (let i = 0; i < sources.length; i++) {
    const px = declaredPixels(sources[i]) ?? Infinity;
    if (i > start && (i - start >= maxImages || sum + px > budget)) {
      out.push([start, i]);
      start = i;
      sum = 0;
    }
    sum += px;
  }
  if (start < sources.length) out.push([start, sources.length]);
  return out;
}
