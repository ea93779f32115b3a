// PP-ShiTuV2_det-shaped detector: PP-PicoDet with a PP-LCNet x2.5 backbone at
// 640x640, one class, NMS in the graph. Random weights: timing only.
//
// Layer configuration from PaddleDetection:
// - configs/picodet/legacy_model/application/mainbody_detection/picodet_lcnet_x2_5_640_mainbody.yml:
//   PicoDet = LCNet (scale 2.5, feature_maps [3, 4, 5]) + CSPPAN + PicoHead.
// - ppdet/modeling/backbones/lcnet.py: NET_CONFIG blocks2..6 (kernel, in, out, stride, SE),
//   depthwise-separable blocks (dw conv + BN + hardswish, optional SE with hardsigmoid,
//   pw conv + BN + hardswish), channels make_divisible(c * scale, 8).
// - ppdet/modeling/necks/csp_pan.py: CSPPAN (1x1 channel transforms to out_channels,
//   top-down and bottom-up CSP layers with depthwise 5x5 DP modules, num_features 4 adds
//   a stride-64 level).
// - the legacy picodet base config (_base_/picodet_esnet.yml, which the mainbody config
//   inherits): CSPPAN out_channels 128, num_csp_blocks 1; PicoHead with PicoFeat
//   (128 -> 128, 4 convs of dw 5x5 + pw 1x1 per level, share_cls_reg), strides
//   [8, 16, 32, 64], reg_max 7; MultiClassNMS score 0.025, IoU 0.6, keep_top_k 100.
//   That base file is not in the indexed source; its values here are the published
//   PicoDet-legacy ones, checked against the PicoHeadV2 configs that are.
//
// Inputs and outputs are those of the PaddleX export (models/PP-ShiTuV2_det.yaml):
//   image float32 [N,3,640,640], scale_factor float32 [N,2] ->
//   boxes float32 [M,6] = [class, score, x1, y1, x2, y2] in original pixels, count int32 [N].
import { Act, Feat, Graph, GraphCounts } from './graph';

export const DET_SIZE = 640;
const SCALE = 2.5;
const NECK = 128;
const STRIDES = [8, 16, 32, 64];
const REG_MAX = 7;
const NUM_CLASSES = 1;
export const DET_NMS = { scoreThreshold: 0.025, iouThreshold: 0.6, keepTopK: 100 };

function makeDivisible(v: number, d = 8): number {
  let n = Math.max(d, Math.floor((v + d / 2) / d) * d);
  if (n < 0.9 * v) n += d;
  return n;
}

// [kernel, in, out, stride, SE] (lcnet.py NET_CONFIG)
const NET: Record<string, Array<[number, number, number, number, boolean]>> = {
  blocks2: [[3, 16, 32, 1, false]],
  blocks3: [[3, 32, 64, 2, false], [3, 64, 64, 1, false]],
  blocks4: [[3, 64, 128, 2, false], [3, 128, 128, 1, false]],
  blocks5: [[3, 128, 256, 2, false], ...Array.from({ length: 5 }, () => [5, 256, 256, 1, false] as [number, number, number, number, boolean])],
  blocks6: [[5, 256, 512, 2, true], [5, 512, 512, 1, true]],
};

const HS: Act = 'hardswish';

function backbone(g: Graph, x: Feat): Feat[] {
  let y = g.conv(x, makeDivisible(16 * SCALE), 3, { stride: 2, act: HS });
  const outs: Feat[] = [];
  for (const stage of ['blocks2', 'blocks3', 'blocks4', 'blocks5', 'blocks6']) {
    for (const [k, , cout, s, se] of NET[stage]) {
      y = g.conv(y, y.c, k, { stride: s, groups: y.c, act: HS });
      if (se) y = g.se(y, 'hardsigmoid');
      y = g.conv(y, makeDivisible(cout * SCALE), 1, { act: HS });
    }
    if (stage !== 'blocks2') outs.push(y);
  }
  // feature_maps [3, 4, 5]: blocks4, blocks5, blocks6 (outs index + 2)
  return outs.slice(1);
}

/** csp_pan.py DP_Module: depthwise k x k (BN, act) then pointwise 1x1 (BN, act). */
function dp(g: Graph, x: Feat, k: number, stride: number): Feat {
  return g.conv(g.conv(x, x.c, k, { stride, groups: x.c, act: HS }), x.c, 1, { act: HS });
}

/** csp_pan.py CSPLayer(in, out, k=5, expand 0.5, 1 DarknetBottleneck without identity, depthwise). */
function csp(g: Graph, x: Feat, cout: number): Feat {
  const mid = cout / 2;
  const short = g.conv(x, mid, 1, { act: HS });
  let main = g.conv(x, mid, 1, { act: HS });
  main = dp(g, g.conv(main, mid, 1, { act: HS }), 5, 1);
  return g.conv(g.concat([main, short]), cout, 1, { act: HS });
}

function neck(g: Graph, feats: Feat[]): Feat[] {
  const inputs = feats.map((f) => g.conv(f, NECK, 1, { act: HS }));
  const inner = [inputs[inputs.length - 1]];
  for (let i = inputs.length - 1; i > 0; i--) inner.unshift(csp(g, g.concat([g.upsample2x(inner[0]), inputs[i - 1]]), NECK));
  const outs = [inner[0]];
  for (let i = 0; i < inputs.length - 1; i++) outs.push(csp(g, g.concat([dp(g, outs[outs.length - 1], 5, 2), inner[i + 1]]), NECK));
  outs.push(g.add(dp(g, inputs[inputs.length - 1], 5, 2), dp(g, outs[outs.length - 1], 5, 2)));
  return outs;
}

export interface DetModel {
  bytes: Uint8Array;
  counts: GraphCounts;
  anchors: number;
}

export function buildPicoDetLcnet(seed = 2025): DetModel {
  const g = new Graph(seed);
  const image: Feat = { name: 'image', c: 3, h: DET_SIZE, w: DET_SIZE };
  const levels = neck(g, backbone(g, image));
  const bins = REG_MAX + 1;
  const scoreParts: string[] = [], distParts: string[] = [];
  const centers: number[] = [], scaleSign: number[] = [];
  const proj = g.constF([1, 1, bins, 1], Array.from({ length: bins }, (_, i) => i));
  levels.forEach((lv, li) => {
    let y = lv;
    for (let j = 0; j < 4; j++) y = g.conv(g.conv(y, y.c, 5, { groups: y.c, act: HS }), NECK, 1, { act: HS });
    // share_cls_reg: one 1x1 conv gives the class logits and the 4 box distributions.
    const head = g.conv(y, NUM_CLASSES + 4 * bins, 1, { bn: false, convBias: true });
    const [cls, reg] = g.node('Split', [head.name, g.constI64([NUM_CLASSES, 4 * bins])], 2, { axis: 1 });
    // Random weights give class logits of arbitrary scale (every anchor scores ~1, NMS
    // keeps 100 boxes, the feature model embeds 100 crops). So the logits are
    // standardised per level and set at the prior: logit = -4.6 + 0.6 z. About 6 % of
    // the 8500 anchors then pass NMS's 0.025 score threshold and none reaches the
    // pipeline's 0.5, so each recognition embeds one crop (the whole-image fallback),
    // as the published per-image rec time assumes. A few element-wise ops on 8500 values.
    const mean = g.op('ReduceMean', [cls], { axes: [2, 3], keepdims: 1 });
    const centered = g.op('Sub', [cls, mean]);
    const std = g.op('Sqrt', [g.op('Add', [g.op('ReduceMean', [g.op('Mul', [centered, centered])], { axes: [2, 3], keepdims: 1 }), g.constF([], [1e-6])])]);
    const logit = g.op('Add', [g.op('Mul', [g.op('Div', [centered, std]), g.constF([], [0.6])]), g.constF([], [-4.6])]);
    scoreParts.push(g.op('Reshape', [g.op('Sigmoid', [logit]), g.constI64([0, NUM_CLASSES, -1])]));
    // distribution over reg_max + 1 bins -> expected distance (in strides)
    const d = g.op('Softmax', [g.op('Reshape', [reg, g.constI64([0, 4, bins, -1])])], { axis: 2 });
    const dist = g.op('ReduceSum', [g.op('Mul', [d, proj]), g.constI64([2])], { keepdims: 0 }); // [N,4,HW]
    distParts.push(g.op('Transpose', [dist], { perm: [0, 2, 1] })); // [N,HW,4]
    const st = STRIDES[li];
    for (let yy = 0; yy < lv.h; yy++)
      for (let xx = 0; xx < lv.w; xx++) {
        const cx = (xx + 0.5) * st, cy = (yy + 0.5) * st;
        centers.push(cx, cy, cx, cy);
        scaleSign.push(-st, -st, st, st);
      }
  });
  const anchors = centers.length / 4;
  const scores = g.op('Concat', scoreParts, { axis: 2 }); // [N,1,A]
  const dist = g.op('Concat', distParts, { axis: 1 }); // [N,A,4]
  const boxes640 = g.op('Add', [g.op('Mul', [dist, g.constF([anchors, 4], scaleSign)]), g.constF([anchors, 4], centers)]);
  // back to original pixels: x / scale_x, y / scale_y (scale_factor = [scale_y, scale_x])
  const sf4 = g.op('Unsqueeze', [g.op('Gather', ['scale_factor', g.constI64([1, 0, 1, 0])], { axis: 1 }), g.constI64([1])]);
  const boxes = g.op('Div', [boxes640, sf4]);
  const selected = g.op('NonMaxSuppression', [boxes, scores, g.constI64([DET_NMS.keepTopK]), g.constF([1], [DET_NMS.iouThreshold]), g.constF([1], [DET_NMS.scoreThreshold])]);
  const col = (i: number) => g.op('Squeeze', [g.op('Gather', [selected, g.constI64([i])], { axis: 1 }), g.constI64([1])]); // [K]
  const batchIdx = col(0), classIdx = col(1), boxIdx = col(2);
  // flat index into [N*A] (one class, so scores share it)
  const nA = g.constI64([anchors]);
  const flat = g.op('Add', [g.op('Mul', [batchIdx, nA]), boxIdx]);
  const boxRows = g.op('Gather', [g.op('Reshape', [boxes, g.constI64([-1, 4])]), flat], { axis: 0 }); // [K,4]
  const scoreRows = g.op('Gather', [g.op('Reshape', [scores, g.constI64([-1])]), flat], { axis: 0 }); // [K]
  const cls = g.op('Unsqueeze', [g.op('Cast', [classIdx], { to: 1 }), g.constI64([1])]);
  g.node('Concat', [cls, g.op('Unsqueeze', [scoreRows, g.constI64([1])]), boxRows], ['multiclass_nms3_0.tmp_0'], { axis: 1 });
  // count[n] = rows of image n
  const n = g.op('Gather', [g.op('Shape', ['image']), g.constI64([0])], { axis: 0 });
  const zero = g.op('Squeeze', [g.constI64([0])]), one = g.op('Squeeze', [g.constI64([1])]);
  const ids = g.op('Range', [zero, g.op('Squeeze', [n]), one]); // [N]
  const eq = g.op('Equal', [g.op('Unsqueeze', [batchIdx, g.constI64([1])]), g.op('Unsqueeze', [ids, g.constI64([0])])]); // [K,N]
  const counts = g.op('ReduceSum', [g.op('Cast', [eq], { to: 6 }), g.constI64([0])], { keepdims: 0 });
  g.node('Identity', [counts], ['multiclass_nms3_0.tmp_2']);
  const bytes = g.encode('pp_shituv2_det_shaped', [
    { name: 'image', elem: 'float', dims: ['N', 3, DET_SIZE, DET_SIZE] },
    { name: 'scale_factor', elem: 'float', dims: ['N', 2] },
  ], [
    { name: 'multiclass_nms3_0.tmp_0', elem: 'float', dims: ['M', 6] },
    { name: 'multiclass_nms3_0.tmp_2', elem: 'int32', dims: ['N'] },
  ]);
  return { bytes, counts: g.counts, anchors };
}
