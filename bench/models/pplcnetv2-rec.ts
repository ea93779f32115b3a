// PP-ShiTuV2_rec-shaped feature model: PP-LCNetV2_base at 224x224 with the
// 512-d ShiTu head, as exported for inference (re-parameterised). Random weights: timing only.
//
// Layer configuration from PaddleClas:
// - ppcls/arch/backbone/legendary_models/pp_lcnet_v2.py: NET_CONFIG stage1..4
//   (in channels, kernel, split_pw, use_rep, use_se, use_shortcut), depths [2, 2, 6, 2],
//   stem conv 3x3/2 -> 32 + depthwise-separable 32 -> 64; blocks of dw conv (+BN, ReLU),
//   SE (reduction 4, ReLU, sigmoid), pointwise conv(s) (+BN, ReLU); a rep block's
//   parallel dw kernels (5, 3, 1) fuse into one 5x5 dw conv with bias at inference.
// - ppcls/arch/backbone/variant_models/pp_lcnetv2_variant.py (PPLCNetV2_base_ShiTu):
//   stage 4 with stride 1, the ReLU after last_conv removed.
// - ppcls/configs/GeneralRecognitionV2/GeneralRecognitionV2_PPLCNetV2_base.yaml:
//   class_expand 512 (last_conv 1024 -> 512), backbone stops at flatten, BNNeck (batch
//   norm over the 512 features: folded into last_conv here), output = features.
//
// Input and output as the PaddleX export (models/PP-ShiTuV2_rec.yaml):
//   x float32 [N,3,224,224] -> save_infer_model/scale_0.tmp_1 float32 [N,512].
import { Feat, Graph, GraphCounts } from './graph';

export const REC_SIZE = 224;
export const REC_DIM = 512;

// in channels, kernel, split_pw, use_rep, use_se, use_shortcut
const NET: Array<[number, number, boolean, boolean, boolean, boolean]> = [
  [64, 3, false, false, false, false],
  [128, 3, false, false, false, false],
  [256, 5, true, true, true, false],
  [512, 5, false, true, false, true],
];
const DEPTHS = [2, 2, 6, 2];

function block(g: Graph, x: Feat, cout: number, stride: number, k: number, splitPw: boolean, rep: boolean, se: boolean, shortcut: boolean): Feat {
  const input = x;
  // rep: the fused dw conv has its own bias and no BN; otherwise dw conv + BN (folded); ReLU either way
  let y = g.conv(x, x.c, k, { stride, groups: x.c, act: 'relu', bn: !rep, convBias: rep });
  if (se) y = g.se(y, 'sigmoid');
  if (splitPw) y = g.conv(g.conv(y, cout / 2, 1, { act: 'relu' }), cout, 1, { act: 'relu' });
  else y = g.conv(y, cout, 1, { act: 'relu' });
  return shortcut && stride === 1 && input.c === cout ? g.add(y, input) : y;
}

export interface RecModel {
  bytes: Uint8Array;
  counts: GraphCounts;
}

export function buildPpLcnetV2Rec(seed = 2026): RecModel {
  const g = new Graph(seed);
  let y = g.conv({ name: 'x', c: 3, h: REC_SIZE, w: REC_SIZE }, 32, 3, { stride: 2, act: 'relu' });
  y = block(g, y, 64, 1, 3, false, false, false, false);
  NET.forEach(([cin, k, splitPw, rep, se, shortcut], si) => {
    for (let i = 0; i < DEPTHS[si]; i++) {
      // ShiTu variant: the last stage keeps stride 1
      const stride = i === 0 && si < 3 ? 2 : 1;
      y = block(g, y, cin * 2, stride, k, splitPw, rep, se, shortcut);
    }
  });
  const pooled: Feat = { name: g.op('GlobalAveragePool', [y.name]), c: y.c, h: 1, w: 1 };
  // last_conv 1024 -> 512 (no bias) + BNNeck's batch norm (folded into a bias here: 4 x 512 in Paddle)
  const head = g.conv(pooled, REC_DIM, 1, { bn: true });
  g.node('Flatten', [head.name], ['save_infer_model/scale_0.tmp_1'], { axis: 1 });
  const bytes = g.encode('pp_shituv2_rec_shaped', [{ name: 'x', elem: 'float', dims: ['N', 3, REC_SIZE, REC_SIZE] }], [
    { name: 'save_infer_model/scale_0.tmp_1', elem: 'float', dims: ['N', REC_DIM] },
  ]);
  return { bytes, counts: g.counts };
}
