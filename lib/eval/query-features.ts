// A query through the pipeline's own recognition (detection, crops, features:
// predict's code path and admission), keeping each box's feature vector
// instead of searching: the evaluation searches itself, so that one embedding
// serves every threshold and, in leave-one-out, the query's own gallery entry
// can be left out.
import type { PipelineCore } from '../pipeline/core';
import type { IndexSearcher } from '../vector-index/searcher';
import type { MetricType } from '../vector-index/index-data';

export interface QueryBox {
  coordinate: [number, number, number, number];
  detScore: number;
}

export interface QueryFeatures {
  boxes: QueryBox[];
  /** boxes.length x dim values, box by box. */
  features: Float32Array;
  /**
   * No main body was found: the detector's whole-image fallback (one box, the
   * whole picture, score 0) is all there is.
   */
  noMainBody: boolean;
}

export interface QueryOptions {
  detThreshold?: number;
  metricType: MetricType;
  limitInputPixels?: number | false;
  imageFormats?: readonly string[];
  /** Cancels the recognition itself too (the pipeline's admission drops it, native code stops at its next stage). */
  signal?: AbortSignal;
}

export async function queryFeatures(pipeline: PipelineCore, bytes: Buffer, o: QueryOptions): Promise<QueryFeatures> {
  let captured = new Float32Array(0);
  // predict hands a searcher the features of every box; this one keeps them and finds nothing.
  const capture: IndexSearcher = {
    dim: pipeline.featureDim,
    metricType: o.metricType,
    async search(queries: Float32Array) {
      captured = queries.slice();
      return Array.from({ length: queries.length / pipeline.featureDim }, () => []);
    },
  };
  const r = await pipeline.recognize(bytes, {
    index: capture,
    detThreshold: o.detThreshold,
    limitInputPixels: o.limitInputPixels,
    imageFormats: o.imageFormats,
    signal: o.signal,
  });
  const boxes = r.boxes.map((b) => ({ coordinate: b.coordinate, detScore: b.det_score }));
  return { boxes, features: captured, noMainBody: boxes.length === 1 && boxes[0].detScore === 0 };
}
