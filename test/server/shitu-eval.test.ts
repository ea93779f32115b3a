// POST /shitu-eval (issue 24): the evaluation and the gallery check over HTTP,
// on a real server on 127.0.0.1: write scope, an index of the store or
// pictures sent along, bad bodies answered with the field named.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer, ServerOptions } from '../../lib/server/app';
import { parseApiKeys } from '../../lib/server/auth';
import { img, STANDIN_CONFIG } from '../helpers/shared';

const b64 = (...p: string[]) => fs.readFileSync(img(...p)).toString('base64');
const READ = 'r'.repeat(20), WRITE = 'w'.repeat(20);
const KEYS = parseApiKeys(`${READ} read reader\n${WRITE} read,write writer\n`);

let pipeline: Pipeline;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-eval-srv-'));
t.before(async () => { pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1 }); });
t.teardown(async () => { await pipeline?.close(); fs.rmSync(tmp, { recursive: true, force: true }); });

async function start(t: Test, o: Partial<ServerOptions> = {}): Promise<string> {
  const app = createServer(pipeline, { indexDir: fs.mkdtempSync(path.join(tmp, 'idx-')), ...o });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}
async function post(base: string, route: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as any };
}
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
const GALLERY = [
  { image: b64('product_demo/gallery/anmuxi/001.jpg'), label: 'anmuxi' },
  { image: b64('product_demo/gallery/anmuxi/002.jpg'), label: 'anmuxi' },
  { image: b64('drink_test_images/mosilian.jpeg'), label: 'mosilian' },
  { image: b64('product_demo/gallery/anmuxi/001.jpg'), label: 'anmuxi' }, // a duplicate
];

t.test('an index of the store, labelled queries; the same report as the library', async (t) => {
  const base = await start(t, { apiKeys: KEYS });
  const built = await post(base, '/shitu-index-build', { imageLabelPairs: GALLERY }, bearer(WRITE));
  t.equal(built.status, 200);
  const queries = [
    { image: b64('drink_test_images/mosilian.jpeg'), label: 'mosilian' },
    { image: b64('misc/dog.jpg'), label: '-' },
  ];
  const body = { indexKey: built.body.result.indexKey, queries, detThreshold: 1, targetPrecision: 0.9 };
  const ro = await post(base, '/shitu-eval', body, bearer(READ));
  t.equal(ro.status, 403, 'read scope is not enough');
  const r = await post(base, '/shitu-eval', body, bearer(WRITE));
  t.equal(r.status, 200, r.body.errorMsg);
  const { report, check, charts } = r.body.result;
  t.same([report.kind, report.mode, report.queries.total, report.queries.known, report.queries.unknown], ['shitu-eval', 'queries', 2, 1, 1]);
  t.equal(report.image.recall1, 1, 'mosilian finds itself (whole picture)');
  t.same(report.details.map((d: any) => d.image), ['queries[0]', 'queries[1]']);
  t.ok(report.details[0].answer.score > report.details[1].answer.score + 0.2, 'the known photo far above the unknown one');
  t.ok(report.image.sweep.suggested < report.details[0].answer.score && report.image.sweep.suggested > report.details[1].answer.score, 'suggested threshold between them');
  t.equal(check.kind, 'shitu-gallery-check');
  t.same(check.duplicates.filter((d: any) => d.exact).map((d: any) => [d.a.id, d.b.id]), [[0, 3]], 'the duplicate found from the stored vectors');
  t.equal(check.noMainBody, null, 'an index has no pictures');
  t.match(charts.threshold, /^<svg [\s\S]*<\/svg>\n$/);
  t.match(charts.scores, /^<svg /);
  const unchecked = await post(base, '/shitu-eval', { ...body, check: false }, bearer(WRITE));
  t.equal(unchecked.body.result.check, null, 'check: false: the evaluation only');
  t.equal(unchecked.body.result.report.image.recall1, 1);
});

t.test('pictures sent along, leave-one-out, with the check; bad bodies', async (t) => {
  const base = await start(t);
  const r = await post(base, '/shitu-eval', { imageLabelPairs: GALLERY, leaveOneOut: true });
  t.equal(r.status, 200, r.body.errorMsg);
  const { report, check } = r.body.result;
  t.equal(report.mode, 'leave-one-out');
  t.same(report.details.map((d: any) => d.known), [true, true, false, true], 'mosilian has no other entry');
  t.same(report.details.map((d: any) => d.image), ['gallery[0]', 'gallery[1]', 'gallery[2]', 'gallery[3]']);
  for (const i of [0, 3]) t.notOk(report.details[i].boxes.some((b: any) => b.hits.some((h: any) => h.id === 0 || h.id === 3)), `entry ${i}: neither copy of 001.jpg is found`);
  t.equal(report.run.embedded.gallery, 3, 'the duplicate embedded once');
  t.ok(Array.isArray(check.noMainBody), 'pictures: detection looked for a main body');
  t.same(check.duplicates.filter((d: any) => d.exact).map((d: any) => [d.a.id, d.b.id]), [[0, 3]]);

  const bad = async (body: unknown, status: number, msg: RegExp) => {
    const res = await post(base, '/shitu-eval', body);
    t.equal(res.status, status, res.body.errorMsg);
    t.match(res.body.errorMsg, msg);
  };
  await bad({ imageLabelPairs: GALLERY }, 422, /queries or leaveOneOut/);
  await bad({ imageLabelPairs: GALLERY, indexKey: 'abc', leaveOneOut: true }, 422, /give one gallery/);
  await bad({ imageLabelPairs: GALLERY, leaveOneOut: true, targetPrecision: 0 }, 422, /targetPrecision/);
  await bad({ imageLabelPairs: [{ image: Buffer.from('not an image').toString('base64'), label: 'x' }], leaveOneOut: true }, 400, /^imageLabelPairs\[0\]\.image: cannot decode image: not a supported image format/);
  await bad({ imageLabelPairs: GALLERY, queries: [{ image: Buffer.from('nope').toString('base64'), label: 'x' }] }, 400, /^queries\[0\]: cannot decode image: not a supported image format/);
  await bad({ leaveOneOut: true }, 400, /index/i);
});

t.test("the pairs follow the server's maxPairs and the one label rule, as a build's do", async (t) => {
  const base = await start(t, { maxPairs: 2 });
  const over = await post(base, '/shitu-eval', { imageLabelPairs: GALLERY.slice(0, 3), leaveOneOut: true });
  t.equal(over.status, 422, over.body.errorMsg);
  t.match(over.body.errorMsg, /^imageLabelPairs: must NOT have more than 2 items/);
  const queries = await post(base, '/shitu-eval', { imageLabelPairs: GALLERY.slice(0, 2), queries: GALLERY.slice(0, 3) });
  t.match(queries.body.errorMsg, /^queries: must NOT have more than 2 items/);
  const nul = await post(base, '/shitu-eval', { imageLabelPairs: [GALLERY[0], { ...GALLERY[1], label: 'a\u0000b' }], leaveOneOut: true });
  t.equal(nul.status, 422);
  t.equal(nul.body.errorMsg, 'imageLabelPairs[1].label: must not contain U+0000 or unpaired UTF-16 surrogates');
  // The same limits as /shitu-index-build on the same server.
  const build = await post(base, '/shitu-index-build', { imageLabelPairs: GALLERY.slice(0, 3) });
  t.match(build.body.errorMsg, /^imageLabelPairs: must NOT have more than 2 items/);
});
