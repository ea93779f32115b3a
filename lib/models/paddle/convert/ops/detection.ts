// multiclass_nms3: Paddle's per-image, per-class greedy NMS with its two
// top-k cuts, as ONNX NonMaxSuppression plus TopK / Scatter / NonZero, for the
// whole batch at once (no Loop).
//
// Paddle's semantics (phi/kernels/cpu/multiclass_nms3_kernel.cc), per image:
//   for each class c != background_label: the boxes whose score > score_threshold,
//   sorted by score (stable), cut to the first nms_top_k, then greedy NMS: a box is
//   kept when its IoU with every kept box is <= nms_threshold (IoU without the +1
//   when `normalized`, with it otherwise);
//   then, when more than keep_top_k boxes survive over all classes, the keep_top_k
//   best by score (stable over class order) stay;
//   rows [class, score, x1, y1, x2, y2] by class, then by score; NmsRoisNum = rows per image.
//
// How each step maps (and why it is not paddle2onnx's mapping, which passes
// nms_top_k as NonMaxSuppression's max_output_boxes_per_class and so lets a box
// ranked past nms_top_k in, and reorders the rows by score):
//   - the nms_top_k cut is a TopK over each (image, class) before NMS; the
//     (image, class) pairs become NonMaxSuppression's batch, each with its own
//     k boxes, and max_output_boxes_per_class = k keeps every survivor;
//   - ONNX's IoU has no +1, so `normalized = false` adds 1 to x2 and y2 of the
//     boxes NMS sees (the same intersection and areas for boxes that overlap;
//     Paddle also counts boxes exactly 0..1 apart as touching, this does not);
//   - score > score_threshold is applied before NMS (a lower score becomes -inf),
//     so the strictness does not rest on the runtime's NonMaxSuppression;
//   - keep_top_k: the survivors' scores are scattered into an [image, class * k]
//     grid (-inf elsewhere) and a TopK per image marks the best; enumerating the
//     marks in grid order (NonZero) gives Paddle's order: class, then rank
//     within the class, which is score order;
//   - nms_eta < 1 (adaptive threshold) is refused unless nms_threshold <= 0.5,
//     where Paddle never adapts it.
//
// Nothing kept in the whole batch: the package's `nms` detector contract (what
// paddle2onnx exports of PaddleDetection models give and the native detector
// reads) is one dummy row [-1, 0, 0, 0, 0, 0] per image with count 0, so Out is
// that, not Paddle's own [0, 6]. Index is not padded.
import type { PaddleDType } from '../../program';
import { OpContext, registerOps } from '../context';
import { ONNX_ELEM } from '../graph';

const int = (v: number) => ({ kind: 'int' as const, v });
const ints = (v: number[]) => ({ kind: 'ints' as const, v });

/** The contract's row for "nothing found". */
export const NMS_EMPTY_ROW = [-1, 0, 0, 0, 0, 0];

function multiclassNms3(ctx: OpContext): void {
  const b = ctx.b;
  if (ctx.has('RoisNum')) ctx.unsupported('RoisNum (LoD boxes) is not supported; only scores [N, C, M] with boxes [N, M, 4]');
  const sShape = ctx.shape('Scores');
  const bShape = ctx.shape('BBoxes');
  if (sShape?.length !== 3) ctx.unsupported(`scores of rank ${sShape?.length ?? '?'}: only [N, C, M] is supported`);
  if (bShape?.length !== 3) ctx.unsupported(`boxes of rank ${bShape?.length ?? '?'}: only [N, M, 4] is supported`);
  if (bShape[2] >= 0 && bShape[2] !== 4) ctx.unsupported(`boxes of ${bShape[2]} coordinates: only [x1, y1, x2, y2] is supported`);

  const scoreThreshold = ctx.float('score_threshold', 0);
  const nmsTopK = ctx.int('nms_top_k', -1);
  const keepTopK = ctx.int('keep_top_k', -1);
  const nmsThreshold = ctx.float('nms_threshold', 0.3);
  const normalized = ctx.bool('normalized', true);
  const eta = ctx.float('nms_eta', 1);
  const background = ctx.int('background_label', 0);
  if (eta < 1 && nmsThreshold > 0.5) ctx.unsupported(`nms_eta ${eta} (an adaptive threshold) is not supported`);

  const dtype: PaddleDType = ctx.dtype('BBoxes') === 'float64' ? 'float64' : 'float32';
  const elem = ONNX_ELEM[dtype];
  const boxes = ctx.input('BBoxes');
  let scores = ctx.input('Scores');
  const negInf = b.scalar(-Infinity, dtype, 'nms_neg_inf');
  const i64 = (v: number[]) => b.int64s(v);
  const dim = (t: string, i: number) => b.op('Gather', [b.op('Shape', [t]), i64([i])], { axis: int(0) });
  const reshape = (t: string, parts: string[]) =>
    b.op('Reshape', [t, parts.length === 1 ? parts[0] : b.op('Concat', parts, { axis: int(0) })], { allowzero: int(1) });

  const N = dim(scores, 0);
  const C = dim(scores, 1);
  const M = dim(scores, 2);
  const NC = b.op('Mul', [N, C]);

  // Paddle skips the background class: its scores can never pass the threshold.
  if (background >= 0) {
    const classes = b.op('Range', [b.scalar(0, 'int64'), b.op('Squeeze', [C, i64([0])]), b.scalar(1, 'int64')]);
    const isBg = reshape(b.op('Equal', [classes, b.scalar(background, 'int64')]), [i64([1, -1, 1])]);
    scores = b.op('Where', [isBg, negInf, scores]);
  }
  // score > score_threshold, strictly, as Paddle's GetMaxScoreIndex.
  const thr = b.constant({ dtype, dims: [], values: [scoreThreshold] }, 'nms_score_threshold');
  scores = b.op('Where', [b.op('Greater', [scores, thr]), scores, negInf]);

  // The nms_top_k cut per (image, class).
  const k = nmsTopK > -1 ? b.op('Min', [M, i64([nmsTopK])]) : M;
  const [topS, topI] = b.node('TopK', [scores, k], 2, { axis: int(2), largest: int(1), sorted: int(1) });
  const gathered = b.op('GatherND', [boxes, reshape(topI, [N, i64([-1, 1])])], { batch_dims: int(1) }); // [N, C*k, 4]
  let nmsBoxes = reshape(gathered, [NC, k, i64([4])]);
  if (!normalized) nmsBoxes = b.op('Add', [nmsBoxes, b.constant({ dtype, dims: [4], values: [0, 0, 1, 1] }, 'nms_plus_one')]);
  const nmsScores = reshape(topS, [NC, i64([1]), k]);
  // ONNX's NonMaxSuppression takes float32 only.
  const f32 = (v: string) => (dtype === 'float32' ? v : b.op('Cast', [v], { to: int(ONNX_ELEM.float32) }));
  const selected = b.op('NonMaxSuppression', [
    f32(nmsBoxes),
    f32(nmsScores),
    k,
    b.constant({ dtype: 'float32', dims: [1], values: [nmsThreshold] }, 'nms_iou_threshold'),
    b.constant({ dtype: 'float32', dims: [1], values: [scoreThreshold] }, 'nms_score_threshold_f32'),
  ], { center_point_box: int(0) }); // [S, 3] = (image * C + class, 0, rank in the class's top k)

  // Survivors' scores on an [N*C, k] grid, -inf elsewhere.
  const pairs = b.op('Gather', [selected, i64([0, 2])], { axis: int(1) });
  const topS2 = reshape(topS, [NC, k]);
  const grid = b.op('ScatterND', [
    b.op('Expand', [negInf, b.op('Concat', [NC, k], { axis: int(0) })]),
    pairs,
    b.op('GatherND', [topS2, pairs]),
  ]);
  const Ck = b.op('Mul', [C, k]);
  const perImage = reshape(grid, [N, Ck]); // [N, C*k]
  const lowest = b.constant({ dtype, dims: [], values: [dtype === 'float64' ? -Number.MAX_VALUE : -3.4028234663852886e38] }, 'nms_lowest');
  // The kept marks, 0/1 in float32 whatever the box type (onnxruntime has no NonZero for float64).
  const toMask = int(ONNX_ELEM.float32);
  let mask: string;
  if (keepTopK > -1) {
    const kk = b.op('Min', [Ck, i64([keepTopK])]);
    const [bestS, bestI] = b.node('TopK', [perImage, kk], 2, { axis: int(1), largest: int(1), sorted: int(1) });
    const valid = b.op('Cast', [b.op('Greater', [bestS, lowest])], { to: toMask });
    const zeros = b.op('Expand', [b.scalar(0, 'float32', 'nms_zero'), b.op('Shape', [perImage])]);
    mask = b.op('ScatterElements', [zeros, bestI, valid], { axis: int(1) });
  } else {
    mask = b.op('Cast', [b.op('Greater', [perImage, lowest])], { to: toMask });
  }

  // Rows in (image, class, rank) order.
  const kept = b.op('Transpose', [b.op('NonZero', [mask])], { perm: ints([1, 0]) }); // [R, 2] = (image, class * k + rank)
  const img = b.op('Gather', [kept, b.scalar(0, 'int64')], { axis: int(1) });
  const flat = b.op('Gather', [kept, b.scalar(1, 'int64')], { axis: int(1) });
  const cls = b.op('Div', [flat, k]);
  const rank = b.op('Mod', [flat, k]);
  const col = (t: string) => b.op('Unsqueeze', [t, i64([1])]);
  const boxIdx = b.op('GatherND', [
    reshape(topI, [NC, k]),
    b.op('Concat', [col(b.op('Add', [b.op('Mul', [img, C]), cls])), col(rank)], { axis: int(1) }),
  ]);
  const rowBoxes = b.op('GatherND', [boxes, b.op('Concat', [col(img), col(boxIdx)], { axis: int(1) })]);
  const rowScores = b.op('GatherND', [perImage, kept]);
  const rows = b.op('Concat', [col(b.op('Cast', [cls], { to: int(elem) })), col(rowScores), rowBoxes], { axis: int(1) });

  // The contract's empty case: one dummy row per image when no image kept anything.
  const total = dim(rows, 0);
  const padRows = b.op('Mul', [b.op('Cast', [b.op('Equal', [total, i64([0])])], { to: int(ONNX_ELEM.int64) }), N]);
  const dummy = b.op('Expand', [
    b.constant({ dtype, dims: [1, 6], values: NMS_EMPTY_ROW }, 'nms_empty_row'),
    b.op('Concat', [N, i64([6])], { axis: int(0) }),
  ]);
  const out = ctx.output('Out');
  b.node('Slice', [b.op('Concat', [rows, dummy], { axis: int(0) }), i64([0]), b.op('Add', [total, padRows]), i64([0])], [out]);
  ctx.setShape(out, [-1, 6]);
  b.setFacts(out, { dtype });

  if (ctx.hasOutput('NmsRoisNum')) {
    const count = ctx.output('NmsRoisNum');
    b.node('Cast', [b.op('ReduceSum', [mask, i64([1])], { keepdims: int(0) })], [count], { to: int(ONNX_ELEM.int32) });
    ctx.setShape(count, [sShape[0]]);
    b.setFacts(count, { dtype: 'int32' });
  }
  if (ctx.hasOutput('Index')) {
    const index = ctx.output('Index');
    const flatIdx = b.op('Add', [b.op('Mul', [img, M]), boxIdx]);
    b.node('Cast', [col(flatIdx)], [index], { to: int(ONNX_ELEM.int32) });
    ctx.setShape(index, [-1, 1]);
    b.setFacts(index, { dtype: 'int32' });
  }
}

registerOps({ multiclass_nms3: multiclassNms3 });
