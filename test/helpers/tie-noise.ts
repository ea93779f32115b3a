// Measures the score noise between code paths that test/helpers/recognition.ts's
// TIE_MARGIN and tolerances are chosen from. Rerun it on a new CPU:
//
//   node -r @isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only test/helpers/tie-noise.ts [out.json] [--reference-only] [--compare other.json]
//
// Every shared photo (product_demo, drink_test_images, misc) against each test
// gallery, recognised with intra-op threads 1 and 2, batching on and off,
// reduced decode on and off (8 settings); each box is matched by IoU to the one
// of the reference setting (1 thread, no batching, full decode) and every label
// both list is compared. Prints the largest score difference per axis, the
// closest leads of a best label over its runner-up, and writes all as JSON.
// Between CPUs: run it on each (or here under `qemu-x86_64 -cpu Haswell node ...`,
// which hides AVX-512 and VNNI so that ONNX Runtime takes its AVX2 int8 kernels;
// --reference-only then runs just the reference setting, TCG being slow) and
// compare the two files' reference settings with --compare.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPipeline, IndexData, Pipeline } from '../../lib/index';
import { IMAGES, STANDIN_CONFIG } from './shared';
import { GALLERIES, GalleryName } from './recognition-cases';
import { AnyBox, hitsOf, leadOf, matchBox, SAME_BOX_IOU } from './recognition';

interface Setting { threads: 1 | 2; batching: boolean; reducedDecode: boolean }
const SETTINGS: Setting[] = [];
for (const threads of [1, 2] as const) for (const batching of [false, true]) for (const reducedDecode of [false, true]) SETTINGS.push({ threads, batching, reducedDecode });
const nameOf = (s: Setting) => `threads ${s.threads}, batching ${s.batching ? 'on' : 'off'}, reduced decode ${s.reducedDecode ? 'on' : 'off'}`;
/** What differs from the reference setting. */
const axisOf = (s: Setting) => [s.threads === 2 && 'threads', s.batching && 'batching', s.reducedDecode && 'reducedDecode'].filter(Boolean).join('+') || 'reference';

const PHOTOS = ['product_demo', 'drink_test_images', 'misc'].flatMap((d) =>
  (fs.readdirSync(path.join(IMAGES, d), { recursive: true }) as string[]).filter((f) => /\.(jpe?g|png)$/i.test(f)).map((f) => `${d}/${f}`)).sort();

type Boxes = AnyBox[];

async function recogniseAll(p: Pipeline, index: IndexData, reducedDecode: boolean): Promise<Boxes[]> {
  // All at once so that batches form when batching is on.
  const topk = Math.min(100, index.count);
  return Promise.all(PHOTOS.map(async (f) => (await p.recognize(path.join(IMAGES, f), { index, reducedDecode, recThreshold: 0, recTopk: topk })).json.res.boxes as Boxes));
}

async function main() {
  const args = process.argv.slice(2);
  const referenceOnly = args.includes('--reference-only');
  const compareWith = args.includes('--compare') ? args[args.indexOf('--compare') + 1] : undefined;
  const out = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--compare');
  // Under qemu-user (QEMU_CPU=Haswell) /proc/cpuinfo is the host's: name the emulated CPU instead.
  const emulated = process.env.QEMU_CPU;
  const cpu = emulated ? `qemu-x86_64 -cpu ${emulated}` : os.cpus()[0]?.model ?? 'unknown';
  const flags = fs.existsSync('/proc/cpuinfo') ? (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '') : '';
  const simd = emulated ? ['(emulated)'] : ['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8'].filter((f) => flags.split(/\s+/).includes(f));
  console.log(`${cpu} (${os.availableParallelism()} cores; ${simd.join(' ') || 'no AVX2'}), Node ${process.version}, ${PHOTOS.length} photos`);
  const base = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 4 });
  const indexes = new Map<GalleryName, IndexData>();
  const galleries = ['quickStart', 'five', 'service'] as const;
  for (const g of galleries) {
    indexes.set(g, await base.buildIndex({ galleryImgs: GALLERIES[g].map(([p]) => path.join(IMAGES, p)), galleryLabel: GALLERIES[g].map(([, l]) => l), indexType: 'Flat', metricType: 'IP' }));
  }
  const results = new Map<string, Map<GalleryName, Boxes[]>>();
  for (const s of referenceOnly ? SETTINGS.slice(0, 1) : SETTINGS) {
    const p = s.threads === 1 && !s.batching ? base : await createPipeline(STANDIN_CONFIG, { threads: s.threads, concurrency: 4, batching: s.batching ? { maxBatch: 8, maxWaitMs: 20 } : false });
    const per = new Map<GalleryName, Boxes[]>();
    for (const g of galleries) per.set(g, await recogniseAll(p, indexes.get(g)!, s.reducedDecode));
    results.set(nameOf(s), per);
    if (p !== base) await p.close();
  }
  const ref = results.get(nameOf(SETTINGS[0]))!;
  const byAxis: Record<string, { maxScoreDiff: number; where: string; minIou: number; maxDetDiff: number; boxCountDiffers: number }> = {};
  for (const s of SETTINGS.slice(1)) {
    const axis = axisOf(s);
    const acc = (byAxis[axis] ??= { maxScoreDiff: 0, where: '', minIou: 1, maxDetDiff: 0, boxCountDiffers: 0 });
    for (const g of galleries) {
      results.get(nameOf(s))!.get(g)!.forEach((boxes, i) => {
        const want = ref.get(g)![i];
        if (boxes.length !== want.length) acc.boxCountDiffers++;
        for (const b of boxes) {
          const m = matchBox(b, want);
          if (!m.box || m.iou < SAME_BOX_IOU) continue; // not the same box (or one side only: counted above)
          acc.minIou = Math.min(acc.minIou, m.iou);
          acc.maxDetDiff = Math.max(acc.maxDetDiff, Math.abs((b as any).det_score - (m.box as any).det_score));
          const other = hitsOf(m.box);
          for (const h of hitsOf(b)) {
            const o = other.find((x) => x.label === h.label);
            if (!o) continue;
            const d = Math.abs(h.score - o.score);
            if (d > acc.maxScoreDiff) { acc.maxScoreDiff = d; acc.where = `${g}: ${PHOTOS[i]} ${h.label} ${o.score.toFixed(4)} -> ${h.score.toFixed(4)}`; }
          }
        }
      });
    }
  }
  const crossCpu = compareWith ? compareRef(ref, galleries, JSON.parse(fs.readFileSync(compareWith, 'utf8'))) : undefined;
  // The closest races in the reference setting: where a best label barely leads.
  const leads: Array<{ gallery: string; photo: string; box: number; lead: number; first: string; second: string }> = [];
  for (const g of galleries) ref.get(g)!.forEach((boxes, i) => boxes.forEach((b, k) => {
    const h = hitsOf(b);
    if (h.length >= 2) leads.push({ gallery: g, photo: PHOTOS[i], box: k, lead: leadOf(h), first: `${h[0].label} ${h[0].score.toFixed(4)}`, second: `${h[1].label} ${h[1].score.toFixed(4)}` });
  }));
  leads.sort((a, b) => a.lead - b.lead);
  console.log('\nlargest difference from the reference (threads 1, batching off, full decode), same box and label:');
  for (const [axis, a] of Object.entries(byAxis))
    console.log(`  ${axis.padEnd(30)} score ${a.maxScoreDiff.toFixed(4)}  det ${a.maxDetDiff.toFixed(4)}  min IoU ${a.minIou.toFixed(3)}  box counts differ ${a.boxCountDiffers}  (${a.where})`);
  if (crossCpu) console.log(`\nagainst ${crossCpu.other} (reference settings): score ${crossCpu.maxScoreDiff.toFixed(4)} (${crossCpu.where}), det ${crossCpu.maxDetDiff.toFixed(4)}, min IoU ${crossCpu.minIou.toFixed(3)}, box counts differ ${crossCpu.boxCountDiffers}, best labels differ ${crossCpu.bestDiffers.length}${crossCpu.bestDiffers.length ? ': ' + crossCpu.bestDiffers.join('; ') : ''}`);
  console.log('\nclosest leads of the best label over the runner-up (reference setting):');
  for (const l of leads.slice(0, 15)) console.log(`  ${l.lead.toFixed(4)}  ${l.gallery}: ${l.photo} box ${l.box}: ${l.first} / ${l.second}`);
  if (out) fs.writeFileSync(out, JSON.stringify({ cpu, simd, node: process.version, byAxis, crossCpu, leads, results: Object.fromEntries([...results].map(([k, v]) => [k, Object.fromEntries(v)])) }, null, 1));
  await base.close();
}

/** The reference setting here against another machine's file (same photos, same galleries). */
function compareRef(ref: Map<GalleryName, Boxes[]>, galleries: readonly GalleryName[], other: any) {
  const theirs = other.results[nameOf(SETTINGS[0])];
  const acc = { other: `${other.cpu} (${other.simd.join(' ')})`, maxScoreDiff: 0, where: '', maxDetDiff: 0, minIou: 1, boxCountDiffers: 0, bestDiffers: [] as string[] };
  for (const g of galleries) ref.get(g)!.forEach((boxes, i) => {
    const want: Boxes = theirs[g][i];
    if (boxes.length !== want.length) acc.boxCountDiffers++;
    boxes.forEach((b, k) => {
      const m = matchBox(b, want);
      if (!m.box || m.iou < SAME_BOX_IOU) return;
      acc.minIou = Math.min(acc.minIou, m.iou);
      acc.maxDetDiff = Math.max(acc.maxDetDiff, Math.abs((b as any).det_score - (m.box as any).det_score));
      const mine = hitsOf(b);
      const other = hitsOf(m.box);
      if (mine[0] && other[0] && mine[0].label !== other[0].label) acc.bestDiffers.push(`${g}: ${PHOTOS[i]} box ${k} ${mine[0].label} ${mine[0].score.toFixed(4)} here, ${other[0].label} ${other[0].score.toFixed(4)} there`);
      for (const h of mine) {
        const o = other.find((x) => x.label === h.label);
        if (!o) continue;
        const d = Math.abs(h.score - o.score);
        if (d > acc.maxScoreDiff) { acc.maxScoreDiff = d; acc.where = `${g}: ${PHOTOS[i]} ${h.label} ${o.score.toFixed(4)} there, ${h.score.toFixed(4)} here`; }
      }
    });
  });
  return acc;
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
