// Long Base64 image fields of large bodies are decoded on the JSON worker and
// come back as bytes (lib/server/body/json-worker.ts, decoded-images.ts): the
// worker itself (which fields, which bytes, which digests) and the service
// end to end, each large body checked against the same request in a small body
// (decoded on the event loop): the same answer, the same error at the same
// field, validation first, idempotent retries recognised across servers.
import t from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createServer } from '../../lib/server/app';
import { JsonWorker } from '../../lib/server/body/json-worker';
import { requestHash } from '../../lib/server/idempotency';
import { BODY_LIMITS, SERVICE_LIMITS, WORKER_DECODE_MIN_CHARS } from '../../lib/limits';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { img, STANDIN_CONFIG } from '../helpers/shared';

const PHOTO = fs.readFileSync(img('product_demo', 'query', 'anmuxi.jpg'));
const OTHER = fs.readFileSync(img('drink_test_images', 'mosilian.jpeg'));
const B64 = PHOTO.toString('base64');
/** Trailing line breaks (allowed in Base64) that take a body over the worker's threshold. */
const PAD = '\n'.repeat(BODY_LIMITS.offloadBytes);
/** MIME-style lines of 76 characters. */
const wrapped = (s: string) => s.replace(/.{76}/g, '$&\r\n');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-body-images-'));
let pipeline: Pipeline;
t.before(async () => { pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1, warmup: false }); });
t.teardown(async () => { await pipeline?.close(); fs.rmSync(tmp, { recursive: true, force: true }); });

t.test('the worker decodes the long Base64 of image fields, and only those', async (t) => {
  t.ok(B64.length >= WORKER_DECODE_MIN_CHARS, 'the photo is long enough to be decoded on the worker');
  const worker = new JsonWorker();
  t.teardown(() => worker.close());
  const parse = (value: unknown, digests = false) => {
    const job = worker.begin();
    job.push(Buffer.from(JSON.stringify(value)));
    return job.end(digests);
  };
  const url = `https://example.com/${'a'.repeat(WORKER_DECODE_MIN_CHARS)}.jpg`;
  const urlSafe = B64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const short = OTHER.subarray(0, 1000).toString('base64');
  const body = {
    image: `data:image/jpeg;base64,${wrapped(B64)}`,
    imageLabelPairs: [{ image: urlSafe, label: 'a' }, { image: url, label: 'b' }, { image: short, label: 'c' }, { image: '%'.repeat(WORKER_DECODE_MIN_CHARS), label: 'd' }],
    queries: [{ image: OTHER.toString('base64') + PAD, label: 'q' }],
    extra: { image: B64 },
    label: B64,
  };
  const { value, images } = await parse(body, true);
  const v = value as typeof body;
  t.ok(images, 'a table of decoded fields');
  t.equal(images!.size, 4, 'image, imageLabelPairs[0] and [3], queries[0]');
  for (const [what, field, bytes] of [['data: URI with line breaks', v.image, PHOTO], ['URL-safe alphabet, no padding', v.imageLabelPairs[0].image, PHOTO], ['trailing whitespace', v.queries[0].image, OTHER]] as const) {
    t.ok(field.length < 100, `${what}: a short placeholder in the body (${field.length} characters)`);
    t.same(images!.result(field), bytes, `${what}: the bytes the Base64 stands for`);
  }
  t.equal(images!.result(v.imageLabelPairs[3].image), 'invalid', 'not Base64: decoded to its error, reported by the route');
  t.equal(v.imageLabelPairs[1].image, url, 'a URL is left alone');
  t.equal(v.imageLabelPairs[2].image, short, 'a short field is left alone (decoded on the event loop)');
  t.equal(v.extra.image, B64, 'an `image` outside the image fields is left alone');
  t.equal(v.label, B64, 'a field that is not an image is left alone');
  t.equal(images!.sha256(v.image), crypto.createHash('sha256').update(body.image).digest('hex'), 'the digest is of the text sent');
  t.equal(images!.result(B64), undefined, 'text that is not a placeholder stands for nothing');

  // Mostly line breaks around 3 bytes: the bytes come in a buffer of their own, and the worker goes on.
  const tiny = await parse({ image: `${'\n'.repeat(WORKER_DECODE_MIN_CHARS)}AAEC` });
  t.same(tiny.images!.result((tiny.value as { image: string }).image), Buffer.from([0, 1, 2]), 'a few bytes in a long field');
  const after = await parse({ image: B64 });
  t.same(after.images!.result((after.value as { image: string }).image), PHOTO, 'the next body decodes as before');

  const plain = await parse({ image: 'x', label: B64 });
  t.equal(plain.images, undefined, 'no image field to decode: no table');
  const noDigests = await parse({ image: B64 });
  t.throws(() => noDigests.images!.sha256((noDigests.value as { image: string }).image), { code: 'ERR_INTERNAL' }, 'no digest unless asked for');

  const other = new JsonWorker();
  t.teardown(() => other.close());
  const job = other.begin();
  job.push(Buffer.from(JSON.stringify({ image: B64 })));
  const elsewhere = await job.end(false);
  t.not((elsewhere.value as { image: string }).image, (noDigests.value as { image: string }).image, 'each server has its own placeholders');
});

t.test('requestHash: a decoded field counts as the text it replaced', async (t) => {
  const worker = new JsonWorker();
  t.teardown(() => worker.close());
  const parse = (value: unknown) => {
    const job = worker.begin();
    job.push(Buffer.from(JSON.stringify(value)));
    return job.end(true);
  };
  const a1 = await parse({ imageLabelPairs: [{ image: B64, label: 'a' }] });
  const a2 = await parse({ imageLabelPairs: [{ image: B64, label: 'a' }] });
  const b = await parse({ imageLabelPairs: [{ image: OTHER.toString('base64'), label: 'a' }] });
  const hash = (p: typeof a1) => requestHash('/shitu-index-build', p.value, p.images);
  t.equal(hash(a1), hash(a2), 'the same text: the same hash');
  t.not(hash(a1), hash(b), 'another image with the same placeholder: another hash');
});

t.test('the service: a large body answers as the same request in a small one', async (t) => {
  const indexDir = fs.mkdtempSync(path.join(tmp, 'i-'));
  const start = async () => {
    const app = createServer(pipeline, { indexDir });
    await app.listen({ host: '127.0.0.1', port: 0 });
    t.teardown(() => app.close());
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  };
  const base = await start();
  const post = async (route: string, body: unknown, headers: Record<string, string> = {}, at = base) => {
    const text = JSON.stringify(body);
    const res = await fetch(at + route, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
    return { status: res.status, body: await res.json(), replayed: res.headers.get('idempotent-replayed'), bytes: text.length };
  };
  const built = await post('/shitu-index-build', { imageLabelPairs: [{ image: B64, label: 'anmuxi' }, { image: OTHER.toString('base64'), label: 'mosilian' }] });
  t.equal(built.status, 200, built.body.errorMsg);
  const indexKey = built.body.result.indexKey;

  const small = await post('/shitu-infer', { image: B64, indexKey, returnImage: false });
  const large = await post('/shitu-infer', { image: wrapped(B64) + PAD, indexKey, returnImage: false });
  t.ok(small.bytes < BODY_LIMITS.offloadBytes && large.bytes > BODY_LIMITS.offloadBytes, 'one body parsed on the event loop, one on the worker');
  t.equal(large.status, 200, large.body.errorMsg);
  t.same(large.body.result.detectedObjects, small.body.result.detectedObjects, 'the same recognition');
  // Near the largest body accepted (64 MiB): the photo's Base64 in lines, then line breaks.
  const head = wrapped(B64);
  const huge = await post('/shitu-infer', { image: head + '\n'.repeat((SERVICE_LIMITS.bodyLimit - 1024 - head.length * 1.1) >> 1), indexKey, returnImage: false });
  t.ok(huge.bytes > SERVICE_LIMITS.bodyLimit - 2 ** 20 && huge.bytes <= SERVICE_LIMITS.bodyLimit, `a body of ${(huge.bytes / 2 ** 20).toFixed(1)} MiB`);
  t.equal(huge.status, 200, huge.body.errorMsg);
  t.same(huge.body.result.detectedObjects, small.body.result.detectedObjects, 'the same recognition');

  // Each pair: the request with short fields, and with the same fields padded to a large body.
  const big = (s: string) => s + PAD;
  const cases: Array<[string, string, (pad: (s: string) => string) => unknown]> = [
    ['not Base64', '/shitu-infer', (pad) => ({ image: pad('%'.repeat(WORKER_DECODE_MIN_CHARS)), indexKey })],
    ['empty image', '/shitu-infer', (pad) => ({ image: pad(' '.repeat(WORKER_DECODE_MIN_CHARS) + '=='), indexKey })],
    ['Base64 of no image', '/shitu-infer', (pad) => ({ image: pad('A'.repeat(WORKER_DECODE_MIN_CHARS)), indexKey })],
    ['the second image is not Base64', '/shitu-index-add', (pad) => ({ indexKey, imageLabelPairs: [{ image: pad(B64), label: 'a' }, { image: pad(`${B64.slice(0, -8)}!${B64.slice(-7)}`), label: 'b' }] })],
    ['validation before decoding: a blank label', '/shitu-index-add', (pad) => ({ indexKey, imageLabelPairs: [{ image: pad('%'.repeat(WORKER_DECODE_MIN_CHARS)), label: '   ' }] })],
    ['validation before decoding: no label', '/shitu-index-build', (pad) => ({ imageLabelPairs: [{ image: pad('%'.repeat(WORKER_DECODE_MIN_CHARS)) }] })],
    ['a placeholder forged by a client', '/shitu-index-add', (pad) => ({ indexKey, imageLabelPairs: [{ image: pad(B64), label: 'a' }, { image: `shitu-decoded-image:${'0'.repeat(32)}:1`, label: 'b' }] })],
    ['eval: queries decoded too', '/shitu-eval', (pad) => ({ indexKey, queries: [{ image: pad(B64), label: 'anmuxi' }, { image: pad('%'.repeat(WORKER_DECODE_MIN_CHARS)), label: 'x' }] })],
  ];
  for (const [what, route, make] of cases) {
    const s = await post(route, make((x) => x));
    const l = await post(route, make(big));
    t.ok(s.bytes < BODY_LIMITS.offloadBytes && l.bytes > BODY_LIMITS.offloadBytes, `${what}: a small and a large body`);
    t.ok(s.status >= 400, `${what}: refused (${s.status} ${s.body.errorMsg})`);
    t.same([l.status, l.body.errorMsg], [s.status, s.body.errorMsg], `${what}: the same status and message`);
  }
  t.match((await post('/shitu-index-add', cases[3][2](big))).body.errorMsg, /^imageLabelPairs\[1\]\.image: neither an http\(s\) URL nor Base64/, 'the field named is the bad one');

  // Another server (its own worker, its own placeholders) recognises the retry; another image with the key does not pass for it.
  const other = await start();
  const key = `large-${process.pid}`;
  const body = { imageLabelPairs: [{ image: big(B64), label: 'anmuxi' }] };
  const first = await post('/shitu-index-build', body, { 'idempotency-key': key });
  t.equal(first.status, 200, first.body.errorMsg);
  const again = await post('/shitu-index-build', body, { 'idempotency-key': key }, other);
  t.equal(again.replayed, 'true', 'the same large body with the key, on the other server: a replay');
  t.equal(again.body.result.indexKey, first.body.result.indexKey);
  const changed = await post('/shitu-index-build', { imageLabelPairs: [{ image: big(OTHER.toString('base64')), label: 'anmuxi' }] }, { 'idempotency-key': key }, other);
  t.equal(changed.status, 422, 'another image with the key');
  t.match(changed.body.errorMsg, /^ERR_IDEMPOTENCY_MISMATCH: /);
});
