// Model cards and the pipeline config against their schemas: a bad value is a
// coded error naming the key (ERR_MODEL_CARD / ERR_CONFIG), never a NaN that
// reaches the native readers; every card shipped in models/ passes.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCard, parseInferenceYml } from '../../lib/models/card';
import { validateConfig } from '../../lib/pipeline/config';
import { ShituError } from '../../lib/errors';
import { TOPK } from '../../lib/limits';

const good = `name: m
task: detection
preprocess:
  resize: {width: 640, height: 640, keep_ratio: false, interpolation: cubic}
  scale: 0.00392156862745098
  mean: [0.485, 0.456, 0.406]
  std: [0.229, 0.224, 0.225]
  channel_order: rgb
detection:
  contract: nms
  threshold: 0.5
`;

function cardError(text: string, parse = (s: string) => parseCard('card.yaml', s)): ShituError | undefined {
  try {
    parse(text);
  } catch (e) {
    return e as ShituError;
  }
  return undefined;
}

t.test('every card in models/ passes', async (t) => {
  const dir = path.resolve(__dirname, '../../models');
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'standin.yaml')) {
    const card = parseCard(path.join(dir, f), fs.readFileSync(path.join(dir, f), 'utf8'));
    t.ok(card.preprocess.width >= 0 && Number.isFinite(card.preprocess.scale), f);
  }
  t.equal(parseCard('card.yaml', good).preprocess.width, 640);
});

t.test('bad card values are ERR_MODEL_CARD naming the key', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['width: abc', good.replace('width: 640', 'width: abc'), /preprocess\.resize\.width: expected integer, got "abc"/],
    ['width: -1', good.replace('width: 640', 'width: -1'), /preprocess\.resize\.width: .*0/],
    ['scale: foo', good.replace('scale: 0.00392156862745098', 'scale: foo'), /preprocess\.scale: expected number, got "foo"/],
    ['scale: .nan', good.replace('scale: 0.00392156862745098', 'scale: .nan'), /preprocess\.scale: expected number, got NaN/],
    ['std with a 0', good.replace('std: [0.229', 'std: [0'), /preprocess\.std\[0\]: /],
    ['mean of two', good.replace('mean: [0.485, 0.456, 0.406]', 'mean: [1, 2]'), /preprocess\.mean: /],
    ['contract: nmss', good.replace('contract: nms', 'contract: nmss'), /detection\.contract: /],
    ['an unknown key', good + 'detection_extra: 1\n', /detection_extra: unexpected property/],
    ['task: segmentation', good.replace('task: detection', 'task: segmentation'), /task: /],
    ['not YAML', 'a: [', /not valid YAML/],
  ];
  for (const [name, text, re] of cases) {
    const e = cardError(text);
    t.equal(e?.code, 'ERR_MODEL_CARD', name);
    t.match(e?.message, re, `${name}: ${e?.message}`);
  }
});

t.test('inference.yml values that would be NaN are refused', async (t) => {
  const yml = (size: string, scale: string) => `Preprocess:\n  - type: Resize\n    target_size: ${size}\n    keep_ratio: false\n  - type: NormalizeImage\n    mean: [0.5, 0.5, 0.5]\n    std: [0.5, 0.5, 0.5]\n    scale: ${scale}\n`;
  const ok = parseInferenceYml('inference.yml', yml('[640, 640]', '1.0/255'), 'detection');
  t.equal(ok.preprocess.width, 640);
  const e1 = cardError(yml('[abc, 640]', '1.0/255'), (s) => parseInferenceYml('inference.yml', s, 'detection'));
  t.equal(e1?.code, 'ERR_MODEL_CARD');
  t.match(e1?.message, /read from its ops: height: expected integer, got NaN/);
  const e2 = cardError(yml('[640, 640]', 'foo'), (s) => parseInferenceYml('inference.yml', s, 'detection'));
  t.equal(e2?.code, 'ERR_MODEL_CARD');
  t.match(e2?.message, /scale: expected number, got NaN/);
});

t.test('the pipeline config uses the same limits as the service', async (t) => {
  t.equal(validateConfig({ rec_topk: TOPK.max }).rec_topk, TOPK.max);
  t.throws(() => validateConfig({ rec_topk: TOPK.max + 1 }), { code: 'ERR_CONFIG', message: new RegExp(`rec_topk: expected integer to be less or equal to ${TOPK.max}, got ${TOPK.max + 1}`) });
  t.throws(() => validateConfig({ det_threshold: 'x' }), { code: 'ERR_CONFIG', message: /det_threshold: expected number, got "x"/ });
});

t.test('the pipeline config schema names the key', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ SubModules: { Detection: { model_nmae: 'x' } } }, /config SubModules\.Detection\.model_nmae: unknown key/],
    [{ SubModules: { Recognition: { batch_size: 0 } } }, /config SubModules\.Recognition\.batch_size: expected integer to be greater or equal to 1/],
    [{ pipeline_name: 'Other' }, /config pipeline_name: /],
    [{ rec_threshold: Number.NaN }, /config rec_threshold: expected number, got NaN/],
    [{ index: 5 }, /config index: /],
  ];
  for (const [raw, re] of bad) t.throws(() => validateConfig(raw), { code: 'ERR_CONFIG', message: re }, JSON.stringify(raw));
  const ok = validateConfig({ index: 'None', det_threshold: 0.3, SubModules: { Detection: { model_dir: null } } }, '/x');
  t.equal(ok.index, null);
  t.equal(ok.det_threshold, 0.3);
  t.equal(ok.SubModules.Detection.model_dir, null);
});
