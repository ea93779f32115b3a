// The lists written on both sides of the native boundary: native contracts()
// (native/js_contracts.cc) against their TypeScript twins, so that a code, an
// index type, a format or a stage added on one side only fails here.
import t from 'tap';
import { ERROR_CODES, JS_ONLY_ERROR_CODES, NATIVE_ERROR_CODES } from '../../lib/errors';
import { DEFAULT_IMAGE_FORMATS, IMAGE_FORMATS } from '../../lib/limits';
import { native } from '../../lib/native/loader';
import { STAGE_NAMES } from '../../lib/native/stage-names';
import { serverTiming } from '../../lib/server/timing';
import { INDEX_TYPES } from '../../lib/vector-index/index-data';
import * as path from 'node:path';
import { MODELS, img } from '../helpers/shared';

const PICODET = path.join(MODELS, 'picodet_s_coco', 'picodet_s_416_coco.onnx');
const PICODET_PRE = { scale: 1, mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395], channelOrder: 'bgr' as const };

const c = native.contracts();
const sorted = (a: readonly string[]) => [...a].sort();

t.test('error codes: every native code is a ShituErrorCode, and the JS-only ones are not native', async (t) => {
  t.same(sorted(NATIVE_ERROR_CODES), sorted(c.errorCodes), 'lib/errors.ts NATIVE_ERROR_CODES = native/errors.h kErrorCodes');
  t.equal(new Set(c.errorCodes).size, c.errorCodes.length, 'no native code listed twice');
  for (const code of JS_ONLY_ERROR_CODES) t.notOk(c.errorCodes.includes(code), `${code} is JS-only`);
  t.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, 'no code in both lists');
  for (const code of c.errorCodes) t.match(code, /^ERR_[A-Z0-9_]+$/);
});

t.test('index types: the same names, and each one the native VectorIndex builds reads back as itself', async (t) => {
  t.same(sorted(INDEX_TYPES), sorted(c.indexTypes), 'INDEX_TYPES = vector_index.h kIndexTypeNames');
  const dim = 16;
  const n = 64;
  const vectors = new Float32Array(n * dim).map((_, i) => Math.sin(i * 0.37) + ((i * 7919) % 13) / 13);
  const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(i));
  for (const type of c.indexTypes) {
    const index = new native.VectorIndex(dim, type, 'IP');
    t.equal(index.type(), type, `${type}: new VectorIndex keeps its name`);
    await index.add(vectors, ids);
    // Saved and loaded again, the type is read off the FAISS structure (DetectType).
    // verify: false, as for the package's own checksummed files: the structural
    // check knows only the reference's types.
    const loaded = await native.VectorIndex.fromBuffer(await index.toBuffer(), { verify: false });
    t.equal(loaded.type(), type, `${type}: read back from its file as ${type}`);
    t.equal(loaded.count(), n, `${type}: every vector kept`);
  }
});

t.test('image formats: the names the native decoder knows, and the default set', async (t) => {
  t.same(sorted(IMAGE_FORMATS), sorted(c.imageFormats), 'lib/limits.ts IMAGE_FORMATS = image_probe FormatName');
  t.same(sorted(DEFAULT_IMAGE_FORMATS), sorted(c.defaultImageFormats), 'DEFAULT_IMAGE_FORMATS = kDefaultImageFormats');
  // Each name is one the decode options accept; an unknown one is refused.
  const px = { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4, channels: 3 };
  for (const f of c.imageFormats) await t.resolves(native.decodeImage(px, { formats: [f] }), `formats: ['${f}'] accepted`);
  t.throws(() => native.decodeImage(px, { formats: ['gif'] }), RangeError, 'an unknown name is refused');
});

t.test('stage names: the timings native calls report, in order, and the Server-Timing header names each', async (t) => {
  t.same([...STAGE_NAMES], c.stageNames, 'lib/native/stage-names.ts STAGE_NAMES = stage_times.h ForEachStage, same order');
  // A real detect reports exactly these keys, in this order.
  const model = await native.loadModel(PICODET, {});
  const det = native.createDetector(model, { preprocess: PICODET_PRE, threshold: 0.5 });
  const r = await det.detect(img('misc', 'dog.jpg'), {});
  t.same(Object.keys(r.timings), c.stageNames, 'detect timings keyed by the stage names');
  const timings = Object.fromEntries([...STAGE_NAMES, 'wall'].map((k, i) => [k, i + 0.5])) as Record<(typeof STAGE_NAMES)[number] | 'wall', number>;
  const header = serverTiming(timings);
  const names = header.split(', ').map((e) => e.split(';')[0]);
  t.same(names, [...STAGE_NAMES, 'wall'], 'every stage, recBatchWait included, is in the header');
});
