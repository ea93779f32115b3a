// The web page's Evaluate view in Debian's Chromium through
// playwright-core, as test/web/page.test.ts drives the other views: a gallery
// folder and a query folder picked, the figures the service answered shown,
// the threshold chart drawn, the conflicting pairs listed with thumbnails
// (the deliberately mislabelled copy first), and the suggested threshold
// applied to the page's queries: the unknown photo is then rejected.
// Screenshot: output/screenshots/web-evaluate.png.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer, ShituServer } from '../../lib/server/app';
import { native } from '../../lib/native/loader';
import { img, STANDIN_CONFIG } from '../helpers/shared';
import { TIE_MARGIN } from '../helpers/recognition';

const CHROMIUM = process.env.SHITU_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = path.resolve(__dirname, '..', '..', 'output', 'screenshots');
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-web-eval-'));
let pipeline: Pipeline;
let app: ShituServer;
let base = '';
let ctx: BrowserContext;
const errors: string[] = [];

function watch(page: Page): Page {
  page.setDefaultTimeout(90_000);
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return page;
}

const GALLERY: Array<[string, string, string]> = [
  ['product_demo/gallery/anmuxi/001.jpg', '001.jpg', '安慕希'],
  ['product_demo/gallery/anmuxi/002.jpg', '002.jpg', '安慕希'],
  ['product_demo/gallery/anmuxi/003.jpg', '003.jpg', '安慕希'],
  ['product_demo/gallery/anmuxi/004.jpg', '004.jpg', '安慕希'],
  ['product_demo/gallery/anmuxi/005.jpg', '005.jpg', '安慕希'],
  ['drink_test_images/mosilian.jpeg', 'mosilian.jpeg', '莫斯利安'],
  ['drink_test_images/nongfu_spring.jpeg', 'nongfu.jpeg', '农夫山泉'],
];

t.before(async () => {
  pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1 });
  app = createServer(pipeline, { indexDir: path.join(tmp, 'indexes') });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  ctx = await chromium.launchPersistentContext(path.join(tmp, 'profile'), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1280, height: 900 }, locale: 'en-US' });
});
t.teardown(async () => {
  await ctx?.close();
  await app?.close();
  await pipeline?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

t.test('Evaluate: folders in, figures, chart, conflicts with thumbnails, threshold applied', async (t) => {
  // The gallery folder: seven photos and 001.jpg re-encoded (other bytes, the same picture) filed as 莫斯利安.
  // The page sends a folder in path order: ids 0-4 are 001-005.jpg, 5 the copy, 6 mosilian, 7 nongfu.
  const g = path.join(tmp, 'gallery');
  fs.mkdirSync(g);
  for (const [src, name] of GALLERY) fs.copyFileSync(img(src), path.join(g, name));
  fs.writeFileSync(path.join(g, 'copy.jpg'), await native.encodeImage(await native.decodeImage(img('product_demo/gallery/anmuxi/001.jpg')), '.jpg', 70));
  fs.writeFileSync(path.join(g, 'labels.txt'), [...GALLERY.map(([, n, l]) => `${n}\t${l}`), 'copy.jpg\t莫斯利安'].join('\n') + '\n');
  // The queries: two gallery photos and one the gallery does not know.
  const q = path.join(tmp, 'queries');
  fs.mkdirSync(q);
  fs.copyFileSync(img('drink_test_images/mosilian.jpeg'), path.join(q, 'm.jpeg'));
  fs.copyFileSync(img('drink_test_images/nongfu_spring.jpeg'), path.join(q, 'n.jpeg'));
  fs.copyFileSync(img('misc/dog.jpg'), path.join(q, 'dog.jpg'));
  fs.writeFileSync(path.join(q, 'labels.txt'), 'm.jpeg 莫斯利安\nn.jpeg 农夫山泉\ndog.jpg -\n');
  // The index the Recognise view queries: the same gallery through the API.
  const built = await fetch(base + '/shitu-index-build', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ imageLabelPairs: GALLERY.map(([src, , label]) => ({ image: fs.readFileSync(img(src)).toString('base64'), label })) }),
  }).then((r) => r.json() as any);
  const key = built.result.indexKey;

  const page = watch(await ctx.newPage());
  await page.goto(`${base}/?indexKey=${key}&view=evaluate`);
  await page.waitForSelector('body[data-ready="true"]');
  t.equal(await page.getAttribute('#tab-evaluate', 'aria-selected'), 'true', 'opened on Evaluate by its link');
  t.equal(await page.isVisible('#view-evaluate'), true);
  const unlabelled = await page.$$eval('#view-evaluate input, #view-evaluate button', (els) => els.filter((e) => {
    const x = e as HTMLInputElement;
    return !((x.labels && x.labels.length > 0) || x.getAttribute('aria-label') || (x.tagName === 'BUTTON' && x.textContent?.trim()));
  }).length);
  t.equal(unlabelled, 0, 'every control labelled');
  // Whole pictures (as gallery photos are embedded): the queries' scores are then far apart.
  await page.evaluate(() => { (document.getElementById('det-threshold') as HTMLInputElement).value = '1'; });

  await page.getByLabel('Gallery folder (optional)').setInputFiles(g);
  await page.getByLabel('Query folder (optional)').setInputFiles(q);
  const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/shitu-eval')), page.getByRole('button', { name: 'Evaluate', exact: true }).click()]);
  t.equal(res.status(), 200);
  const answer = (await res.json()).result;
  await page.waitForSelector('#eval-result:not([hidden])');
  const summary = await page.textContent('#eval-summary');
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  t.equal(answer.report.queries.total, 3);
  t.match(summary, `Recall@1${pct(answer.report.image.recall1)} per image`, 'Recall@1 as the service computed it');
  t.match(summary, `Current threshold0.500`, 'the Recognise view\'s threshold is the current one');
  const suggested: number = answer.report.image.sweep.suggested;
  const scoreOf = (label: string) => answer.report.details.find((d: any) => d.label === label).answer.score;
  const [m, n, dog] = [scoreOf('莫斯利安'), scoreOf('农夫山泉'), scoreOf('-')];
  t.ok(Math.min(m, n) > dog + 10 * TIE_MARGIN, `known photos (${m.toFixed(3)}, ${n.toFixed(3)}) far above the unknown one (${dog.toFixed(3)})`);
  t.ok(suggested > dog && suggested < Math.min(m, n), `suggested ${suggested.toFixed(4)} between them`);
  t.match(summary, `Suggested threshold${suggested.toFixed(3)}`);
  const charts = await page.$$eval('#eval-charts img.chart', (imgs) => imgs.map((i) => ({ src: (i as HTMLImageElement).src.slice(0, 24), w: (i as HTMLImageElement).naturalWidth })));
  t.same(charts.map((c) => c.src), ['data:image/svg+xml;chars', 'data:image/svg+xml;chars'], 'the threshold chart and the score chart');
  t.ok(charts.every((c) => c.w > 0), 'both drawn');

  // The re-encoded copy: its nearest neighbour is 001.jpg under another label, flagged as a mislabel, with both thumbnails.
  const rows = await page.$$eval('#eval-conflicts tbody tr', (trs) => trs.map((tr) => ({
    text: tr.textContent, thumbs: [...tr.querySelectorAll('img.thumb')].map((i) => (i as HTMLImageElement).naturalWidth), mislabelled: tr.classList.contains('mislabelled'),
  })));
  t.ok(rows.length >= 1, `${rows.length} conflicting pairs listed`);
  t.match(rows[0].text, /#5 莫斯利安.*#0 安慕希.*likely mislabelled: looks like 安慕希/, 'the mislabelled copy first');
  t.ok(rows[0].mislabelled && rows[0].thumbs.length === 2 && rows[0].thumbs.every((w) => w > 0), 'with both thumbnails');
  t.equal(rows.filter((r) => r.mislabelled).length, 1, 'and only it: 001.jpg keeps its label');
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, 'web-evaluate.png'), fullPage: true });

  // Applying the suggestion sets the page's threshold; the unknown photo is then rejected in Recognise.
  await page.getByRole('button', { name: /^Use .* for recognition$/ }).click();
  t.equal(Number(await page.inputValue('#rec-threshold')), Number(suggested.toFixed(4)), 'the Recognise view\'s threshold is the suggested one');
  await page.click('#tab-recognise');
  const [inf] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/shitu-infer')), page.setInputFiles('#query-file', img('misc/dog.jpg'))]);
  t.same(JSON.parse(inf.request().postData()!).recThreshold, Number(suggested.toFixed(4)), 'sent with the suggested threshold');
  const objects = (await inf.json()).result.detectedObjects;
  t.same(objects.map((o: any) => o.recResults.length), [0], 'the unknown photo is rejected');
  const [inf2] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/shitu-infer')), page.setInputFiles('#query-file', img('drink_test_images/mosilian.jpeg'))]);
  t.equal((await inf2.json()).result.detectedObjects[0].recResults[0]?.label, '莫斯利安', 'a known photo is still recognised');

  // A bad query folder: the service's message, shown in the view.
  await page.click('#tab-evaluate');
  const bad = path.join(tmp, 'bad');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, 'broken.jpg'), 'not an image');
  fs.writeFileSync(path.join(bad, 'labels.txt'), 'broken.jpg x\n');
  await page.getByLabel('Query folder (optional)').setInputFiles(bad);
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  await page.getByLabel('Gallery folder (optional)').setInputFiles(empty);
  await Promise.all([page.waitForResponse((r) => r.url().endsWith('/shitu-eval')), page.getByRole('button', { name: 'Evaluate', exact: true }).click()]);
  await page.waitForSelector('#eval-error:not([hidden])');
  t.match(await page.textContent('#eval-error'), /queries\[0\]: cannot decode image/);
  t.same(errors.filter((e) => !/status of 400/.test(e)), [], 'no console errors (besides the refused request)');
});
