// The PP-ShiTuV2 pipeline: main-body detection -> feature extraction ->
// retrieval. One native call per image does the whole recognition on a worker
// thread; this class validates each call's options, keeps the index's labels,
// shapes results like the reference and builds, extends and trims indexes
// (gallery embedding: ./gallery.ts). createPipeline is in ./pipeline.ts.
import * as path from 'node:path';
import type { PipelineConfig } from './config';
import { callNative, ShituError } from '../errors';
import { expandInputs, ImageInput, PreparedImage } from '../input/image-input';
import { DecodeLimits, resolveDecodeLimits } from '../input/decode-limits';
import { IndexData, INDEX_TYPES, METRIC_TYPES } from '../vector-index/index-data';
import { TOPK } from '../limits';
import { Admission, AdmissionStats } from './admission';
import { Cancellation } from './cancel';
import { IndexSearcher, isIndexSearcher, passesThreshold } from '../vector-index/searcher';
import type { LoadedDetector, LoadedExtractor } from '../models/resolve';
import type { NativeRecognizedBox } from '../native/binding';
import { native } from '../native/loader';
import { BoxJson, RecognitionResult, StageTimings } from './result';
import { readRemoveIds } from '../vector-index/formats/remove-ids';
import { debug } from '../util/debug-log';
import { embedGallery, galleryEntries, GalleryModels } from './gallery';
import {
  AppendIndexOptions, BuildIndexOptions, checkOnError, checkThreshold, GalleryResult, isCallError, pixelBudgetOf,
  PipelineSettings, PredictOptions, RemoveIndexOptions,
} from './options';

/**
 * Everything a pipeline does but evaluate and check galleries (those are in
 * lib/eval/, which works over this class; Pipeline in ./pipeline.ts adds them
 * as methods).
 */
export class PipelineCore {
  readonly config: PipelineConfig;
  private readonly detector: LoadedDetector;
  private readonly extractor: LoadedExtractor;
  private readonly concurrency: number;
  /** What createPipeline chose (threads and concurrency from the core count unless given). */
  readonly settings: Readonly<PipelineSettings>;
  /** The pipeline's decode limits (createPipeline's limitInputPixels / imageFormats). */
  readonly decodeLimits: DecodeLimits;
  private defaultIndex?: Promise<IndexData>;
  private closed = false;
  private readonly admission: Admission;

  /** The admission's counters: jobs in flight and queued now, and completed, failed, aborted and refused (ERR_BUSY) so far. */
  stats(): AdmissionStats {
    return this.admission.stats();
  }

  /** What dynamic batching has done so far (runs of the feature model it made, recognitions and crops it served). */
  batchStats(): { runs: number; requests: number; rows: number; maxRowsInRun: number } {
    return this.extractor.native.batchStats();
  }

  /** @internal use createPipeline */
  constructor(config: PipelineConfig, detector: LoadedDetector, extractor: LoadedExtractor, settings: PipelineSettings, decodeLimits?: DecodeLimits) {
    this.settings = Object.freeze({ ...settings });
    const concurrency = settings.concurrency;
    this.decodeLimits = decodeLimits ?? resolveDecodeLimits({});
    this.config = config;
    this.detector = detector;
    this.extractor = extractor;
    this.concurrency = concurrency;
    this.admission = new Admission(concurrency, settings.maxQueue);
  }

  /** Dimension of the feature vectors. */
  get featureDim(): number {
    return this.extractor.dim;
  }

  protected checkOpen() {
    if (this.closed) throw new ShituError('ERR_CLOSED', 'the pipeline is closed');
  }

  private async resolveIndex(index: IndexData | string | null | undefined, required: boolean): Promise<IndexData | null>;
  private async resolveIndex(index: IndexData | string | null | undefined | IndexSearcher, required: boolean): Promise<IndexData | IndexSearcher | null>;
  private async resolveIndex(index: IndexData | string | null | undefined | IndexSearcher, required: boolean): Promise<IndexData | IndexSearcher | null> {
    if (index instanceof IndexData) {
      if (index.dim !== this.featureDim)
        throw new ShituError('ERR_INDEX_DIM', `the index holds ${index.dim}-d vectors but the feature model gives ${this.featureDim}-d`);
      return index;
    }
    if (isIndexSearcher(index)) { // searched elsewhere (e.g. pgvector)
      if (index.dim !== this.featureDim)
        throw new ShituError('ERR_INDEX_DIM', `the index holds ${index.dim}-d vectors but the feature model gives ${this.featureDim}-d`);
      return index;
    }
    if (typeof index === 'string') return this.resolveIndex(await IndexData.load(index), required);
    if (index === undefined && this.config.index) {
      this.defaultIndex ??= IndexData.load(this.config.index);
      return this.resolveIndex(await this.defaultIndex, required);
    }
    if (required) throw new ShituError('ERR_INDEX_REQUIRED', 'no index: pass one (IndexData or a saved index directory) or set "index" in the config');
    return null;
  }

  private galleryModels(): GalleryModels {
    return {
      detector: this.detector, extractor: this.extractor, admission: this.admission, concurrency: this.concurrency,
      batchSize: this.config.SubModules.Recognition.batch_size, detThreshold: this.config.det_threshold,
    };
  }

  /** Options common to buildIndex and appendIndex checked; the call's cancellation made. */
  private galleryCall(o: BuildIndexOptions, what: string): Cancellation {
    checkOnError(o.onError, ['fail', 'skip']);
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError(`onProgress must be a function, got ${JSON.stringify(o.onProgress)}`);
    return new Cancellation(o, what);
  }

  /**
   * Embeds the gallery, then adds its vectors to `index` as one admitted job
   * that is waited for once started: the native add refuses a set flag before
   * it changes anything (ERR_ABORTED, `index` as it was), and once it has
   * started changing the index it finishes and the call resolves.
   */
  private async addGallery(index: IndexData | (() => IndexData), o: BuildIndexOptions, cancel: Cancellation): Promise<GalleryResult> {
    const entries = galleryEntries(o);
    const { vectors, rows, skipped } = await cancel.race(embedGallery(this.galleryModels(), entries, !!o.cropByDetection, o.onProgress, resolveDecodeLimits(o, this.decodeLimits), cancel, o.onError ?? 'fail', pixelBudgetOf(o)));
    const target = typeof index === 'function' ? index() : index;
    if (!rows.length) return { index: target, skipped }; // every image skipped: nothing to add
    await this.admission.run(async () => {
      cancel.check();
      await target.add(vectors, rows.map((i) => entries[i].label), { cancel: cancel.flag }).catch((e) => { throw cancel.translate(e); });
    }, cancel, { untilDone: true });
    return { index: target, skipped };
  }

  /** Builds an index from a gallery; with onError 'skip' answers `{ index, skipped }`. */
  async buildIndex(o: BuildIndexOptions & { onError: 'skip' }): Promise<GalleryResult>;
  async buildIndex(o: BuildIndexOptions & { onError?: 'fail' }): Promise<IndexData>;
  async buildIndex(o: BuildIndexOptions): Promise<IndexData | GalleryResult>;
  async buildIndex(o: BuildIndexOptions): Promise<IndexData | GalleryResult> {
    this.checkOpen();
    // Not given: IndexData.create's default shape (DEFAULT_INDEX_SHAPE), applied there only.
    const { indexType, metricType } = o;
    if (indexType !== undefined && !INDEX_TYPES.includes(indexType)) throw new RangeError(`indexType must be one of ${INDEX_TYPES.join(', ')}, got ${JSON.stringify(indexType)}`);
    if (metricType !== undefined && !METRIC_TYPES.includes(metricType)) throw new RangeError(`metricType must be one of ${METRIC_TYPES.join(', ')}, got ${JSON.stringify(metricType)}`);
    const cancel = this.galleryCall(o, 'buildIndex');
    try {
      const r = await this.addGallery(() => IndexData.create(this.featureDim, indexType, metricType), o, cancel);
      return o.onError === 'skip' ? r : r.index;
    } finally {
      cancel.dispose();
    }
  }

  /** Adds gallery images to an index; with onError 'skip' answers `{ index, skipped }`. Aborted, it leaves the index as it was. */
  async appendIndex(o: AppendIndexOptions & { onError: 'skip' }): Promise<GalleryResult>;
  async appendIndex(o: AppendIndexOptions & { onError?: 'fail' }): Promise<IndexData>;
  async appendIndex(o: AppendIndexOptions): Promise<IndexData | GalleryResult>;
  async appendIndex(o: AppendIndexOptions): Promise<IndexData | GalleryResult> {
    this.checkOpen();
    const cancel = this.galleryCall(o, 'appendIndex');
    try {
      const index = (await cancel.race(this.resolveIndex(o.index, true)))!;
      // Only the new images are embedded (the reference re-extracts everything).
      const r = await this.addGallery(index, o, cancel);
      return o.onError === 'skip' ? r : r.index;
    } finally {
      cancel.dispose();
    }
  }

  /** Removes ids from an index as one admitted job; aborted before the native remove changes it, it leaves the index as it was. */
  async removeIndex(o: RemoveIndexOptions): Promise<IndexData> {
    this.checkOpen();
    const cancel = new Cancellation(o, 'removeIndex');
    try {
      const index = (await cancel.race(this.resolveIndex(o.index, true)))!;
      let ids: number[];
      if (typeof o.removeIds === 'string') {
        ids = await cancel.race(readRemoveIds(o.removeIds));
      } else if (Array.isArray(o.removeIds)) {
        ids = o.removeIds;
      } else {
        throw new TypeError('removeIds must be a list of ids or the path of a file with one id per line');
      }
      await this.admission.run(async () => {
        cancel.check();
        await index.remove(ids, { cancel: cancel.flag }).catch((e) => { throw cancel.translate(e); });
      }, cancel, { untilDone: true });
      return index;
    } finally {
      cancel.dispose();
    }
  }


  /** Recognises one prepared image. */
  private async recognizeOne(img: PreparedImage, index: IndexData | IndexSearcher | null, o: PredictOptions, limits: DecodeLimits, cancel: Cancellation): Promise<RecognitionResult> {
    const topk = o.recTopk ?? this.config.rec_topk;
    const recThreshold = o.recThreshold ?? this.config.rec_threshold;
    const t0 = performance.now();
    const searcher: IndexSearcher | null = index !== null && !(index instanceof IndexData) ? index : null;
    const r = await callNative(() =>
      native.recognize(this.detector.native, this.extractor.native, index && !searcher ? (index as IndexData).native : null, img.source, {
        detThreshold: o.detThreshold ?? this.config.det_threshold,
        topk,
        keepImage: o.keepImage === true,
        keepFeatures: searcher !== null,
        reducedDecode: o.reducedDecode ?? this.settings.reducedDecode,
        batchMax: this.settings.batching?.maxBatch ?? 0,
        batchWaitMs: this.settings.batching?.maxWaitMs ?? 0,
        nprobe: o.nprobe,
        efSearch: o.efSearch,
        rerank: o.rerank,
        ...limits,
        cancel: cancel.flag,
      }),
    );
    if (searcher && r.boxes.length) {
      cancel.check(); // the boundary before a search elsewhere
      // Searched outside the native call: its hits become the boxes' ids and scores.
      const ts = performance.now();
      const hits = await searcher.search(r.features!, topk); // keepFeatures was set: one row per box
      r.boxes.forEach((b: NativeRecognizedBox & { labels?: string[] }, i: number) => {
        b.ids = hits[i].map((h) => h.id);
        b.scores = hits[i].map((h) => h.score);
        b.labels = hits[i].map((h) => h.label);
      });
      r.timings.search = performance.now() - ts;
    }
    const wall = performance.now() - t0;
    const boxes: BoxJson[] = r.boxes.map((b: NativeRecognizedBox & { labels?: string[] }) => {
      const labels: Array<string | null> = [];
      const scores: Array<number | null> = [];
      if (searcher) {
        labels.push(...(b.labels as string[]));
        scores.push(...(b.scores as number[]));
      } else if (index) {
        for (let j = 0; j < b.ids.length; j++) {
          const label = (index as IndexData).labelOf(b.ids[j]);
          if (label === undefined) continue; // removed while this search ran
          labels.push(label);
          scores.push(b.scores[j]);
        }
      }
      const matched = labels.length > 0 && index !== null && passesThreshold(index.metricType, scores[0] as number, recThreshold);
      return {
        labels: matched ? labels : [null],
        rec_scores: matched ? scores : [null],
        det_score: b.score,
        coordinate: b.coordinate,
      };
    });
    return new RecognitionResult({
      inputPath: img.inputPath,
      boxes,
      timings: { ...r.timings, wall },
      stem: img.stem,
      source: img.source,
      picture: r.image,
      decodeLimits: limits,
    });
  }

  /**
   * Recognises each input; results come in input order while up to
   * `concurrency` recognitions of this call are prepared and admitted ahead.
   * signal / timeoutMs cover the whole iteration; leaving the loop early
   * drops the recognitions admitted ahead.
   */
  async *predict(input: ImageInput | ImageInput[], o: PredictOptions = {}): AsyncGenerator<RecognitionResult> {
    this.checkOpen();
    checkThreshold('detThreshold', o.detThreshold);
    if (o.recThreshold !== undefined && (typeof o.recThreshold !== 'number' || !Number.isFinite(o.recThreshold)))
      throw new RangeError(`recThreshold must be a number, got ${JSON.stringify(o.recThreshold)}`);
    if (o.reducedDecode !== undefined && typeof o.reducedDecode !== 'boolean') throw new TypeError(`reducedDecode must be a boolean, got ${JSON.stringify(o.reducedDecode)}`);
    if (o.recTopk !== undefined && (!Number.isInteger(o.recTopk) || o.recTopk < TOPK.min || o.recTopk > TOPK.max))
      throw new RangeError(`recTopk must be an integer in [${TOPK.min}, ${TOPK.max}], got ${JSON.stringify(o.recTopk)}`);
    checkOnError(o.onError, ['throw', 'yield']);
    const limits = resolveDecodeLimits(o, this.decodeLimits);
    for (const k of ['nprobe', 'efSearch', 'rerank'] as const)
      if (o[k] !== undefined && (!Number.isInteger(o[k]) || (o[k] as number) < 1)) throw new RangeError(`${k} must be a positive integer, got ${JSON.stringify(o[k])}`);
    const cancel = new Cancellation(o, 'predict');
    const yieldErrors = o.onError === 'yield';
    try {
      const index = await cancel.race(this.resolveIndex(o.index, false));
      const pending: Array<Promise<RecognitionResult>> = [];
      const gen = expandInputs(input, o.fetch, yieldErrors);
      let exhausted = false;
      let n = 0;
      const fill = () => {
        while (!exhausted && pending.length < this.concurrency) {
          const next = gen.next();
          if (next.done) { exhausted = true; break; }
          const thunk = next.value;
          const where = thunk.input ?? `#${n}`;
          n++;
          let p = cancel.race(thunk()).then((img) => this.admission.run(() => this.recognizeOne(img, index, o, limits, cancel), cancel)
            .catch((e) => { throw yieldErrors && !isCallError(e) ? new ItemFailure(e, img.inputPath ?? where, img.stem) : e; }));
          if (yieldErrors) p = p.catch((e) => this.failedItem(e, where));
          p.catch(() => undefined); // surfaced in order below
          pending.push(p);
        }
      };
      fill();
      while (pending.length) {
        cancel.check(); // the boundary between items
        const r = await pending.shift()!;
        fill();
        yield r;
      }
    } finally {
      // Done, failed or left early: what was admitted ahead is dropped.
      cancel.abort(new ShituError('ERR_ABORTED', 'predict: the iteration ended before this item'));
      cancel.dispose();
    }
  }

  /** predict's onError 'yield': the result standing for a failed item. */
  private failedItem(e: unknown, where: string): RecognitionResult {
    if (isCallError(e)) throw e;
    const f = e instanceof ItemFailure ? e
      : new ItemFailure(e, where, where.startsWith('#') ? `image_${where.slice(1)}` : path.basename(where).replace(/\.[^.]*$/, ''));
    const err = f.error as { code?: string; message?: string };
    const timings: StageTimings = { decode: 0, detPreprocess: 0, detInference: 0, detPostprocess: 0, recPreprocess: 0, recInference: 0, recBatchWait: 0, search: 0, total: 0, wall: 0 };
    return new RecognitionResult({
      inputPath: f.input.startsWith('#') ? null : f.input, boxes: [], timings, stem: f.stem, source: undefined,
      error: { code: typeof err?.code === 'string' ? err.code : 'ERR_INPUT', message: err?.message ?? String(e), input: f.input },
    });
  }

  /** One image, one result. */
  async recognize(input: ImageInput, o: PredictOptions = {}): Promise<RecognitionResult> {
    for await (const r of this.predict(input, o)) return r;
    throw new ShituError('ERR_INPUT', 'no image in the input');
  }

  /**
   * Refuses new work, rejects queued jobs with ERR_CLOSED (a call between its
   * jobs fails at its next one) and waits for running jobs at most
   * closeTimeoutMs.
   */
  async close(): Promise<void> {
    this.closed = true;
    const s = this.admission.stats();
    debug('pipeline closing: %d job(s) running, %d queued', s.inFlight, s.queued);
    await this.admission.close(this.settings.closeTimeoutMs);
    debug('pipeline closed');
  }
}

/** An item's failure with the input it came from (predict's onError 'yield'). */
class ItemFailure {
  constructor(readonly error: unknown, readonly input: string, readonly stem: string) {}
}
