// shitu eval and shitu gallery-check from a shell (dist/, built by tsc).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IMAGES, STANDIN_CONFIG } from '../helpers/shared';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-eval-cli-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const LABELS = path.resolve(__dirname, '..', '..', 'examples', 'gallery_labels.txt');

t.test('eval: leave-one-out and a query set, files written', async (t) => {
  const out = path.join(tmp, 'loo');
  const { stdout } = await run(process.execPath, [CLI, 'eval', '--config', STANDIN_CONFIG, '--gallery', IMAGES, '--labels', LABELS, '--leave-one-out', '--out', out]);
  t.match(stdout, /queries 11 \(6 known, 5 unknown\)/);
  t.match(stdout, /per image: Recall@1 [\d.]+ %, Recall@5 [\d.]+ %, mAP@5 [\d.]+ %/);
  t.match(stdout, /rec_threshold: current 0\.5, suggested \d\.\d{4}/);
  for (const f of ['report.json', 'report.md', 'threshold.svg', 'scores.svg']) t.ok(fs.existsSync(path.join(out, f)), f);
  const r = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  t.equal(r.kind, 'shitu-eval');
  t.equal(r.mode, 'leave-one-out');
  t.match(fs.readFileSync(path.join(out, 'threshold.svg'), 'utf8'), /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<polyline[\s\S]*suggested [\d.]+[\s\S]*<\/svg>\n$/);
  t.match(fs.readFileSync(path.join(out, 'report.md'), 'utf8'), /## Per image[\s\S]*Recall@1[\s\S]*!\[rec_threshold sweep\]\(threshold\.svg\)/);

  const index = path.join(tmp, 'index');
  await run(process.execPath, [CLI, 'build-index', '--config', STANDIN_CONFIG, '--gallery', IMAGES, '--labels', LABELS, '--out', index, '--index-type', 'Flat']);
  const q = path.join(tmp, 'queries.txt');
  fs.writeFileSync(q, 'product_demo/gallery/anmuxi/001.jpg 安慕希\nmisc/wangzai.jpg -\n');
  const r2 = await run(process.execPath, [CLI, 'eval', '--config', STANDIN_CONFIG, '--index', index, '--queries', IMAGES, '--query-labels', q, '--det-threshold', '1', '--target-precision', '0.9', '--out', path.join(tmp, 'q')]);
  t.match(r2.stdout, /queries 2 \(1 known, 1 unknown\)/);
  t.match(r2.stdout, /per image: Recall@1 100\.0 %/);
  t.match(r2.stdout, /precision >= 0\.9 from \d\.\d{4}/);
});

t.test('eval and gallery-check: usage errors exit 2, run-time errors 1 with the code', async (t) => {
  const fail = (args: string[]) => run(process.execPath, [CLI, ...args]).then(() => { throw new Error('expected a failure'); }, (e) => e);
  let e = await fail(['eval', '--config', STANDIN_CONFIG, '--leave-one-out', '--out', tmp]);
  t.equal(e.code, 2);
  t.match(e.stderr, /exactly one of --index and --gallery/);
  e = await fail(['eval', '--config', STANDIN_CONFIG, '--gallery', IMAGES, '--labels', LABELS, '--out', tmp]);
  t.equal(e.code, 2);
  t.match(e.stderr, /either --queries or --leave-one-out/);
  e = await fail(['eval', '--config', STANDIN_CONFIG, '--gallery', IMAGES, '--labels', LABELS, '--leave-one-out', '--target-precision', '1.5', '--out', tmp]);
  t.equal(e.code, 2);
  t.match(e.stderr, /--target-precision.*expected a number from 0 to 1, got "1\.5"/);
  e = await fail(['eval', '--config', STANDIN_CONFIG, '--gallery', IMAGES, '--labels', path.join(tmp, 'none.txt'), '--leave-one-out', '--out', tmp]);
  t.equal(e.code, 1);
  t.match(e.stderr, /error ERR_GALLERY: cannot read gallery label file/);
  e = await fail(['gallery-check', '--config', STANDIN_CONFIG, '--out', tmp]);
  t.equal(e.code, 2);
});

t.test('gallery-check: a duplicated entry found from a shell', async (t) => {
  const labels = path.join(tmp, 'dup.txt');
  fs.writeFileSync(labels, fs.readFileSync(LABELS, 'utf8') + 'product_demo/gallery/anmuxi/002.jpg\t安慕希\n');
  const out = path.join(tmp, 'check');
  const { stdout } = await run(process.execPath, [CLI, 'gallery-check', '--config', STANDIN_CONFIG, '--gallery', IMAGES, '--labels', labels, '--out', out]);
  t.match(stdout, /12 entries, 6 labels/);
  t.match(stdout, /duplicates \d+ \(exact 1\)/);
  const r = JSON.parse(fs.readFileSync(path.join(out, 'check.json'), 'utf8'));
  t.same(r.duplicates.filter((d: any) => d.exact).map((d: any) => [d.a.id, d.b.id]), [[1, 11]]);
  t.ok(fs.existsSync(path.join(out, 'pairs.jpg')));
});
