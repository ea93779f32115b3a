// One recognition result in the reference's shape:
//   {"res": {"input_path": ..., "boxes": [{"labels", "rec_scores", "det_score", "coordinate"}]}}
// with print / saveToJson / saveToImg / img like the reference's result object.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { callNative } from '../errors';
import { PreparedImage, RawImage } from '../input/image-input';
import type { NativeImageSource } from '../native/binding';
import type { StageName } from '../native/stage-names';
import { native } from '../native/loader';
import { colorIndexOf } from '../util/label-colour';

export interface BoxJson {
  labels: Array<string | null>;
  rec_scores: Array<number | null>;
  det_score: number;
  coordinate: [number, number, number, number];
}

export interface ResultJson {
  res: { input_path: string | null; boxes: BoxJson[] };
}


export interface StageTimings extends Record<StageName, number> {
  /** Dynamic batching (createPipeline's `batching`): waiting for a batch to form and for Runs other recognitions made with this one's crops in them. */
  recBatchWait: number;
  /** Inside the native call. */
  total: number;
  /** From the JS call to the resolved result: total + queueing + crossing into JS. */
  wall: number;
}

export interface PrintOptions {
  formatJson?: boolean;
  indent?: number;
  ensureAscii?: boolean;
}

function toJsonText(v: unknown, o: PrintOptions): string {
  const text = o.formatJson === false ? JSON.stringify(v) : JSON.stringify(v, null, o.indent ?? 4);
  return o.ensureAscii ? text.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) : text;
}

function isDirTarget(p: string): boolean {
  return (fs.existsSync(p) && fs.statSync(p).isDirectory()) || p.endsWith('/') || path.extname(p) === '';
}

/** Why an item of predict(list, { onError: 'yield' }) has no recognition: its code, message and which input it was. */
export interface ItemError {
  code: string;
  message: string;
  /** The input's path or URL, or "#n" (its place in the list). */
  input: string;
}

export class RecognitionResult {
  readonly inputPath: string | null;
  /** Set (and boxes empty) when this item failed under predict's onError 'yield'. */
  readonly error?: ItemError;
  readonly boxes: BoxJson[];
  readonly timings: StageTimings;
  /** @internal file stem for saved outputs */
  readonly stem: string;
  private readonly source: PreparedImage['source'] | undefined;
  /** The decode limits the recognition ran with (drawing decodes the source again with the same ones). */
  private readonly decodeLimits?: { maxPixels: number; formats: string[] };
  private readonly picture?: RawImage;

  /** @internal */
  constructor(args: { inputPath: string | null; boxes: BoxJson[]; timings: StageTimings; stem: string; source: PreparedImage['source'] | undefined; picture?: RawImage; decodeLimits?: { maxPixels: number; formats: string[] }; error?: ItemError }) {
    this.inputPath = args.inputPath;
    if (args.error) this.error = args.error;
    this.boxes = args.boxes;
    this.timings = args.timings;
    this.stem = args.stem;
    this.source = args.source;
    this.decodeLimits = args.decodeLimits;
    this.picture = args.picture;
  }

  get json(): ResultJson {
    return { res: { input_path: this.inputPath, boxes: this.boxes } };
  }

  /** Prints the JSON to stdout (reference defaults: formatted, indent 4, non-ASCII kept). */
  print(o: PrintOptions = {}): void {
    process.stdout.write(toJsonText(this.json, o) + '\n');
  }

  /** A directory gives {stem}.json inside it. Returns the written path. */
  async saveToJson(savePath: string, o: PrintOptions = {}): Promise<string> {
    const file = isDirTarget(savePath) ? path.join(savePath, `${this.stem}.json`) : savePath;
    await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
    await writeFileAtomic(file, toJsonText(this.json, o) + '\n');
    return file;
  }

  /** The visualisation, encoded (JPEG unless format says otherwise). */
  async image(format = '.jpg'): Promise<Buffer> {
    const items = this.boxes.map((b) => ({
      coordinate: b.coordinate,
      // Unmatched boxes are outlined without a tag (the reference writes "None").
      text: b.labels[0] != null ? `${b.labels[0]} ${(b.rec_scores[0] as number).toFixed(2)}` : '',
      colorIndex: colorIndexOf(b.labels[0] ?? ''),
    }));
    // A failed item (onError 'yield') has neither: native drawResults rejects that with a TypeError.
    return callNative(() => native.drawResults((this.picture ?? this.source) as NativeImageSource, items, { format, ...this.decodeLimits }));
  }

  /** Like the reference's `img` attribute: the visualisation as encoded JPEG bytes. */
  get img(): Promise<Buffer> {
    return this.image('.jpg');
  }

  /** A directory gives {stem}_res.{ext} inside it. Returns the written path. */
  async saveToImg(savePath: string): Promise<string> {
    let file = savePath;
    if (isDirTarget(savePath)) {
      const ext = this.inputPath && /\.(jpe?g|png|bmp|webp)$/i.test(this.inputPath) ? path.extname(this.inputPath).toLowerCase() : '.jpg';
      file = path.join(savePath, `${this.stem}_res${ext}`);
    }
    let ext = path.extname(file).toLowerCase();
    if (!['.jpg', '.jpeg', '.png', '.bmp', '.webp'].includes(ext)) ext = '.jpg';
    const bytes = await this.image(ext);
    await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
    await writeFileAtomic(file, bytes);
    return file;
  }
}

/** Write to a temporary sibling, then rename: readers never see half a file. */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}
