// native.drawResults: the visualisation of recognition results (boxes, tags with
// CJK text), checked by pixels against the undrawn picture.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../../lib/native/loader';

import { SHARED as shared } from '../helpers/shared';
const dog = path.join(shared, 'data/images/misc/dog.jpg');
const notoCjk = '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc';

interface Raw {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
  channelOrder: string;
  fontPath?: string;
}
type Box = [number, number, number, number];

const pixel = (img: Raw, x: number, y: number): number[] => {
  const i = (y * img.width + x) * img.channels;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
};
const diff = (a: number[], b: number[]): number => Math.max(...a.map((v, k) => Math.abs(v - b[k])));

// Mean over a rectangle of the largest per-channel difference between two pictures.
function meanDiff(a: Raw, b: Raw, x0: number, y0: number, x1: number, y1: number): number {
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      sum += diff(pixel(a, x, y), pixel(b, x, y));
      n++;
    }
  return sum / n;
}

// The dog picture is 768x576: line width 1, font size int(0.018 * 768) + 2 = 15.
const boxText: Box = [120, 130, 570, 420];
const boxPlain: Box = [460, 60, 700, 170];
const items = [
  { coordinate: boxText, text: '红牛 0.72', colorIndex: 0 },
  { coordinate: boxPlain, text: '', colorIndex: 1 },
];

t.test('encoded JPEG: same size, boxes drawn, the rest unchanged', async (t) => {
  const original: Raw = await native.decodeImage(dog);
  const jpg: Buffer = await native.drawResults(dog, items);
  t.ok(Buffer.isBuffer(jpg), 'a Buffer');
  t.same([...jpg.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG by default');
  const drawn: Raw = await native.decodeImage(jpg);
  t.equal(drawn.width, original.width);
  t.equal(drawn.height, original.height);

  for (const [x1, y1, x2, y2] of [boxText, boxPlain]) {
    // Each side of the outline, compared along its length.
    t.ok(meanDiff(drawn, original, x1, y1, x2, y1 + 1) > 40, `top edge of ${x1},${y1} drawn`);
    t.ok(meanDiff(drawn, original, x1, y2, x2, y2 + 1) > 40, `bottom edge of ${x1},${y1} drawn`);
    t.ok(meanDiff(drawn, original, x1, y1, x1 + 1, y2) > 40, `left edge of ${x1},${y1} drawn`);
    t.ok(meanDiff(drawn, original, x2, y1, x2 + 1, y2) > 40, `right edge of ${x1},${y1} drawn`);
  }
  // Far from every box and tag, only re-encoding noise.
  t.ok(meanDiff(drawn, original, 20, 460, 100, 560) < 4, 'bottom-left corner unchanged');
  t.ok(meanDiff(drawn, original, 200, 200, 480, 380) < 4, 'inside the box, away from its outline, unchanged');
});

t.test('raw output: exact pixels, tag above the box with text only', async (t) => {
  const original: Raw = await native.decodeImage(dog);
  const drawn: Raw = await native.drawResults(dog, items, { raw: true });
  t.equal(drawn.channelOrder, 'bgr');
  t.equal(drawn.channels, 3);
  t.equal(drawn.width, original.width);
  t.equal(drawn.height, original.height);
  t.type(drawn.fontPath, 'string');
  if (!process.env.SHITU_FONT && fs.existsSync(notoCjk)) t.equal(drawn.fontPath, notoCjk, 'the CJK system font');

  const [x1, y1, x2, y2] = boxText;
  const colour = pixel(drawn, x1, (y1 + y2) >> 1);
  t.ok(diff(colour, pixel(original, x1, (y1 + y2) >> 1)) > 40, 'outline differs from the picture');
  t.same(pixel(drawn, x2, (y1 + y2) >> 1), colour, 'all four sides in one colour');
  t.same(pixel(drawn, (x1 + x2) >> 1, y2), colour);

  // The tag: rows just above the top edge, from the left edge rightwards.
  let boxColoured = 0;
  let white = 0;
  let total = 0;
  for (let y = y1 - 14; y < y1; y++)
    for (let x = x1; x < x1 + 60; x++) {
      const p = pixel(drawn, x, y);
      total++;
      if (diff(p, colour) === 0) boxColoured++;
      if (Math.min(...p) >= 235) white++;
    }
  t.ok(boxColoured > total * 0.3, `tag filled with the box colour (${boxColoured}/${total})`);
  t.ok(white > 15, `white text on the tag (${white} pixels)`);

  // No tag above the box without text (its outline is 1 pixel wide).
  const [px1, py1, px2] = boxPlain;
  t.equal(meanDiff(drawn, original, px1, py1 - 20, px2, py1 - 1), 0, 'nothing above the box without text');

  // Far away and inside, exactly unchanged.
  t.equal(meanDiff(drawn, original, 20, 460, 100, 560), 0);
  t.equal(meanDiff(drawn, original, x1 + 2, y1 + 2, boxPlain[0] - 2, y1 + 40), 0, 'inside below the top edge');
});

// A flat grey picture, 800x300 (font size 16), with one box whose tag goes above it.
const W = 800;
const H = 300;
const grey = { data: Buffer.alloc(W * H * 3, 128), width: W, height: H, channels: 3, channelOrder: 'bgr' as const };
const tagBox: Box = [40, 100, 760, 280];

// Pixels above the box that are neither background nor box colour: the glyphs.
async function ink(text: string): Promise<{ count: number; mask: Uint8Array }> {
  const img: Raw = await native.drawResults(grey, [{ coordinate: tagBox, text, colorIndex: 1 }], { raw: true });
  const colour = pixel(img, tagBox[0], 200);
  const mask = new Uint8Array(W * tagBox[1]);
  let count = 0;
  for (let y = 0; y < tagBox[1]; y++)
    for (let x = 0; x < W; x++) {
      const p = pixel(img, x, y);
      if (diff(p, [128, 128, 128]) > 0 && diff(p, colour) > 0) {
        mask[y * W + x] = 1;
        count++;
      }
    }
  return { count, mask };
}

const differing = (a: Uint8Array, b: Uint8Array): number => a.reduce((n, v, i) => n + (v !== b[i] ? 1 : 0), 0);

t.test('CJK text renders as real glyphs', async (t) => {
  const empty = await ink('');
  const cjk = await ink('红牛');
  const question = await ink('??');
  const hong = await ink('红');
  const niu = await ink('牛');
  t.equal(empty.count, 0, 'empty text: no tag, no ink');
  t.ok(cjk.count > 30, `"红牛" has ink (${cjk.count} pixels)`);
  t.ok(cjk.count > question.count, `"红牛" (${cjk.count}) inks more than "??" (${question.count})`);
  t.ok(differing(cjk.mask, question.mask) > 30, '"红牛" and "??" differ');
  // Missing glyphs would all be the same box: two different characters must differ.
  t.ok(differing(hong.mask, niu.mask) > 20, '"红" and "牛" differ');
});

t.test('other formats, raw input, input left untouched', async (t) => {
  const before = Buffer.from(grey.data);
  for (const format of ['.png', '.webp', '.bmp', '.jpg']) {
    const b: Buffer = await native.drawResults(grey, [{ coordinate: tagBox, text: 'Red Bull 0.72' }], { format, quality: 90 });
    const d: Raw = await native.decodeImage(b);
    t.same([d.width, d.height], [W, H], `${format} decodes to the same size`);
  }
  t.ok(grey.data.equals(before), 'the raw input is not modified');

  // RGB input comes back as BGR.
  const rgb = { data: Buffer.alloc(4 * 4 * 3), width: 4, height: 4, channels: 3, channelOrder: 'rgb' };
  for (let i = 0; i < 16; i++) rgb.data.set([10, 20, 30], i * 3);
  const out: Raw = await native.drawResults(rgb, [], { raw: true });
  t.same(pixel(out, 2, 2), [30, 20, 10]);
});

t.test('concurrent draws give identical pictures', async (t) => {
  const runs = await Promise.all(
    Array.from({ length: 6 }, () => native.drawResults(dog, items, { format: '.png' }) as Promise<Buffer>),
  );
  for (const r of runs.slice(1)) t.ok(r.equals(runs[0]));
});

t.test('boxes on and beyond the border stay visible', async (t) => {
  const img: Raw = await native.drawResults(grey, [{ coordinate: [-50, 0, W, H + 10], text: 'whole 0.00' }], { raw: true });
  const colour = pixel(img, 0, 150);
  t.ok(diff(colour, [128, 128, 128]) > 40, 'left edge drawn on column 0');
  t.same(pixel(img, W - 1, 150), colour, 'right edge on the last column');
  t.same(pixel(img, 400, H - 1), colour, 'bottom edge on the last row');
  t.same(pixel(img, 400, 150), [128, 128, 128], 'inside untouched');
  // No room above: the tag sits inside the box, at its top-left corner.
  let tagPixels = 0;
  for (let y = 0; y < 10; y++) for (let x = 0; x < 40; x++) if (diff(pixel(img, x, y), [128, 128, 128]) > 0) tagPixels++;
  t.ok(tagPixels > 300, `tag inside the box (${tagPixels} pixels)`);
});

t.test('argument validation', async (t) => {
  const bad: unknown[] = [
    undefined,
    {},
    'boxes',
    [null],
    [[1, 2, 3, 4]],
    [{}],
    [{ coordinate: [1, 2, 3] }],
    [{ coordinate: [1, 2, 3, 4, 5] }],
    [{ coordinate: [1, 2, 'x', 4] }],
    [{ coordinate: [1, 2, NaN, 4] }],
    [{ coordinate: [1, 2, Infinity, 4] }],
    [{ coordinate: [10, 2, 3, 4] }],
    [{ coordinate: [1, 2, 3, 4], text: 5 }],
    [{ coordinate: [1, 2, 3, 4], colorIndex: -1 }],
    [{ coordinate: [1, 2, 3, 4], colorIndex: 1.5 }],
    [{ coordinate: [1, 2, 3, 4], colorIndex: '2' }],
  ];
  for (const items of bad) t.throws(() => native.drawResults(dog, items), TypeError, `items ${JSON.stringify(items)}`);
  const ok = [{ coordinate: [1, 2, 3, 4] }];
  t.throws(() => native.drawResults(dog, ok, 'x'), TypeError, 'options not an object');
  t.throws(() => native.drawResults(dog, ok, { format: '.gif' }), TypeError, 'unknown format');
  t.throws(() => native.drawResults(dog, ok, { quality: 101 }), RangeError, 'quality out of range');
  t.throws(() => native.drawResults(dog, ok, { raw: 'yes' }), TypeError);
  t.throws(() => native.drawResults(dog, ok, { fontPath: 3 }), TypeError);
  t.throws(() => native.drawResults(42, ok), TypeError, 'not an image');

  await t.rejects(native.drawResults('/no/such/picture.jpg', ok), { code: 'ERR_IMAGE_MISSING' });
  await t.rejects(native.drawResults(dog, ok, { fontPath: '/no/such/font.ttf' }), { code: 'ERR_DRAW' });
  await t.rejects(native.drawResults(dog, ok, { fontPath: dog }), { code: 'ERR_DRAW' }, 'not a font file');
});

t.test('the drawn palette is the one the web page uses (lib/util/label-colour.ts)', async (t) => {
  const { LABEL_PALETTE, colorIndexOf } = require('../../lib/util/label-colour') as typeof import('../../lib/util/label-colour');
  // One box per palette entry, side by side, with no text: each outline's pixels are the entry's RGB.
  const n = LABEL_PALETTE.length;
  const boxes = LABEL_PALETTE.map((_, i) => ({ coordinate: [10 + i * 30, 10, 30 + i * 30, 60] as Box, text: '', colorIndex: i }));
  const img: Raw = await native.drawResults(dog, boxes, { raw: true });
  t.equal(img.channelOrder, 'bgr');
  const got = boxes.map((b) => pixel(img, b.coordinate[0], 35).reverse());
  t.same(got, LABEL_PALETTE.map((c) => [...c]), `${n} entries, pixel for pixel`);
  // And a label's index is stable and within the palette.
  t.equal(colorIndexOf('红牛'), colorIndexOf('红牛'));
  for (const label of ['', 'a', '红牛-原味', 'x'.repeat(1000)]) t.ok(colorIndexOf(label) >= 0 && colorIndexOf(label) < n, label.slice(0, 10));
});
