// The decode limits handed to every native call that decodes an image:
// the pixel limit and the format allowlist (checked natively on the container
// header before anything is decoded, see native/image_probe.h).
import { DEFAULT_IMAGE_FORMATS, DEFAULT_MAX_INPUT_PIXELS, IMAGE_FORMATS } from '../limits';

export interface DecodeLimits {
  /** 0: no limit of this package (OpenCV's own 2^30 pixels remains). */
  maxPixels: number;
  formats: string[];
}

export interface DecodeLimitOptions {
  limitInputPixels?: number | false;
  imageFormats?: readonly string[];
}

/** Validates the options (RangeError/TypeError), falling back to `base` and then to the defaults. */
export function resolveDecodeLimits(o: DecodeLimitOptions, base?: DecodeLimits): DecodeLimits {
  let maxPixels = base?.maxPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  if (o.limitInputPixels !== undefined) {
    const v = o.limitInputPixels;
    if (v === false) maxPixels = 0;
    else if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1) maxPixels = v;
    else throw new RangeError(`limitInputPixels must be a positive integer or false, got ${JSON.stringify(v)}`);
  }
  let formats = base?.formats ?? [...DEFAULT_IMAGE_FORMATS];
  if (o.imageFormats !== undefined) {
    if (!Array.isArray(o.imageFormats)) throw new TypeError('imageFormats must be a list of format names');
    for (const f of o.imageFormats)
      if (!(IMAGE_FORMATS as readonly string[]).includes(f)) throw new RangeError(`imageFormats: unknown format ${JSON.stringify(f)} (known: ${IMAGE_FORMATS.join(', ')})`);
    formats = [...new Set(o.imageFormats)];
  }
  return { maxPixels, formats };
}
