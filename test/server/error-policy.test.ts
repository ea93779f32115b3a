// The service's one error policy (lib/server/error-status.ts): every failure
// becomes a ShituError, ERROR_STATUS alone turns codes into statuses and
// Retry-After, the field a refusal is about travels in details.field, and no
// file of lib/ reads meaning out of an error message with a regular expression.
import t from 'tap';
import Fastify from 'fastify';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ERROR_CODES, fieldOf, ShituError } from '../../lib/errors';
import { clientError, ERROR_STATUS, mapGalleryError, skippedOf, toShituError } from '../../lib/server/error-status';
import { Limiter } from '../../lib/server/limiter';
import { checkIndexKey } from '../../lib/store/index-store';

t.test('ERROR_STATUS has a status for exactly the codes of lib/errors.ts', async (t) => {
  t.same(Object.keys(ERROR_STATUS).sort(), [...ERROR_CODES].sort());
  for (const [code, s] of Object.entries(ERROR_STATUS)) t.ok(s.status >= 400 && s.status < 600, `${code}: ${s.status}`);
});

t.test('a full limiter refuses with ERR_BUSY and its own Retry-After; a departed client is ERR_ABORTED', async (t) => {
  const limiter = new Limiter(1, 0);
  let release!: () => void;
  const running = limiter.run(() => new Promise<void>((r) => { release = r; }));
  const busy = await limiter.run(async () => undefined).catch((e) => e);
  t.ok(busy instanceof ShituError);
  t.equal(busy.code, 'ERR_BUSY');
  const answer = clientError(toShituError(busy, 1));
  t.equal(answer.status, 503);
  t.equal(answer.headers?.['retry-after'], String((busy.details as { retryAfterS: number }).retryAfterS), 'the limiter\'s estimate, not the table\'s default');
  t.equal(answer.internal, false, 'a refusal is not logged as a failure');
  release();
  await running;
  const ac = new AbortController();
  ac.abort();
  const gone = await limiter.run(async () => undefined, ac.signal).catch((e) => e);
  t.equal(gone.code, 'ERR_ABORTED');
  t.equal(clientError(gone).status, 499);
});

t.test('field errors carry their field; 401 carries the challenge', async (t) => {
  const bad = (() => { try { checkIndexKey('../x'); } catch (e) { return e; } })();
  t.equal((bad as ShituError).code, 'ERR_VALIDATION');
  t.equal(fieldOf(bad), 'indexKey');
  t.match((bad as Error).message, /^indexKey: "\.\.\/x" is not an index key/);
  t.equal(clientError(bad as ShituError).status, 422);
  const auth = clientError(new ShituError('ERR_UNAUTHORIZED', 'an API key is required'));
  t.same([auth.status, auth.headers?.['www-authenticate']], [401, 'Bearer realm="shitu"']);
});

t.test('errors that are not ShituErrors are converted, and server-side ones say nothing of the inside', async (t) => {
  const range = toShituError(new RangeError('topk must be at least 1'), 1);
  t.same([range.code, clientError(range).status, clientError(range).message], ['ERR_VALIDATION', 422, 'topk must be at least 1']);
  const internal = clientError(toShituError(new Error('ENOENT: /srv/secret/path'), 1));
  t.equal(internal.status, 500);
  t.equal(internal.internal, true);
  t.notMatch(internal.message, /secret/);
  t.match(internal.message, /^ERR_INTERNAL: /);
});

t.test('a gallery failure names each image by its request field, the most telling code decides', async (t) => {
  const gallery = new ShituError('ERR_GALLERY', '2 gallery image(s) could not be used', {
    details: [
      { image: '#1', index: 1, code: 'ERR_IMAGE_DECODE', message: 'cannot decode image: not a supported image format' },
      { image: '#4', index: 4, code: 'ERR_IMAGE_TOO_LARGE', message: 'image is 9000x9000 (81000000 pixels), over the limit of 100 pixels' },
    ],
  });
  const mapped = mapGalleryError(gallery, 'imageLabelPairs') as ShituError;
  t.equal(mapped.code, 'ERR_IMAGE_TOO_LARGE');
  t.equal(fieldOf(mapped), 'imageLabelPairs[1].image');
  t.equal(mapped.message, 'imageLabelPairs[1].image: cannot decode image: not a supported image format; imageLabelPairs[4].image: image is 9000x9000 (81000000 pixels), over the limit of 100 pixels');
  t.equal(clientError(mapped).status, 413);
  t.same(skippedOf([{ index: 4, code: 'ERR_IMAGE_DECODE', message: 'm' }], 'imageLabelPairs'), [{ image: 'imageLabelPairs[4].image', code: 'ERR_IMAGE_DECODE', message: 'm' }]);
});

t.test('no file of lib/ parses an error message with a regular expression', async (t) => {
  const root = path.join(__dirname, '..', '..', 'lib');
  const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  // A message rewritten by an anchored pattern, or matched/tested for its meaning.
  const parse = /\.message\.replace\(\/\^|\.(?:test|exec)\([^)]*\.message\b|\.message\.match\(|\.message\.replace\(\/ /;
  const hits = files.flatMap((f) => fs.readFileSync(path.join(root, f), 'utf8').split('\n').map((l, i) => [f, i + 1, l] as const)).filter(([, , l]) => parse.test(l));
  t.same(hits.map(([f, n]) => `${f}:${n}`), []);
});

t.test("Fastify's own refusals keep their status through the table", async (t) => {
  const app = Fastify();
  app.setErrorHandler((err, _request, reply) => {
    const e = toShituError(err, 1);
    const a = clientError(e);
    reply.code(a.status).send({ code: e.code, message: a.message });
  });
  app.post('/x', async () => 'ok');
  t.teardown(() => app.close());
  const media = await app.inject({ method: 'POST', url: '/x', headers: { 'content-type': 'text/x-unknown' }, payload: 'a' });
  t.same([media.statusCode, media.json().code], [415, 'ERR_MEDIA_TYPE']);
  const badJson = await app.inject({ method: 'POST', url: '/x', headers: { 'content-type': 'application/json' }, payload: '{' });
  t.same([badJson.statusCode, badJson.json().code], [400, 'ERR_INPUT']);
});
