// One label rule for both stores: a label with U+0000 or an
// unpaired UTF-16 surrogate is refused by the request schema (422, the same
// message on the file store and on PostgreSQL) before anything is written, and
// by the stores themselves for library callers (ERR_INPUT, nothing written);
// astral characters (paired surrogates) are labels like any other.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';

import { createServer, ServerOptions } from '../../lib/server/app';
import { openIndexStore } from '../../lib/store/open';
import { IndexData } from '../../lib/vector-index/index-data';
import { img } from '../helpers/shared';
import { serviceFixture } from '../helpers/service-fixture';
import { unitVectors } from '../../bench/lib/util';

const IMAGE = fs.readFileSync(img('product_demo', 'query', 'anmuxi.jpg')).toString('base64');
const BAD: Array<[string, string]> = [['NUL', 'a\u0000b'], ['lone high surrogate', 'x\ud800'], ['lone low surrogate', '\udc00y'], ['reversed pair', '\udc00\ud800']];

const fx = serviceFixture('shitu-labels-');
const { tmp } = fx;

const post = async (base: string, route: string, body: unknown) => {
  const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as any };
};

const STORES: Array<[string, () => string]> = [
  ['file store', () => fs.mkdtempSync(path.join(tmp, 'idx-'))],
  ['PostgreSQL store', () => fx.cluster.url],
];

for (const [name, specOf] of STORES) {
  t.test(`${name}: the service refuses NUL and lone surrogates in labels, before any write`, async (t) => {
    const spec = specOf();
    const app = createServer(fx.pipeline, (spec.startsWith('postgresql:') ? { indexStore: spec } : { indexDir: spec }) as ServerOptions);
    await app.listen({ host: '127.0.0.1', port: 0 });
    t.teardown(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const listed = async () => (await (await fetch(base + '/indexes')).json() as any).result.indexes.length;
    const before = await listed();
    for (const [what, label] of BAD) {
      const r = await post(base, '/shitu-index-build', { imageLabelPairs: [{ image: IMAGE, label: 'fine' }, { image: IMAGE, label }] });
      t.equal(r.status, 422, `build, ${what}: 422`);
      t.equal(r.body.errorMsg, 'imageLabelPairs[1].label: must not contain U+0000 or unpaired UTF-16 surrogates', `build, ${what}: the message`);
    }
    t.equal(await listed(), before, 'no index was created');
    // Astral characters are surrogate pairs in JSON/UTF-16: allowed, and stored as sent.
    const built = await post(base, '/shitu-index-build', { imageLabelPairs: [{ image: IMAGE, label: 'drink \u{1F964} 安慕希' }] });
    t.equal(built.status, 200, built.body.errorMsg);
    t.same(built.body.result.idMap, { 0: 'drink \u{1F964} 安慕希' });
    const indexKey = built.body.result.indexKey;
    for (const [what, label] of BAD) {
      const r = await post(base, '/shitu-index-add', { indexKey, imageLabelPairs: [{ image: IMAGE, label }] });
      t.equal(r.status, 422, `add, ${what}: 422`);
      t.match(r.body.errorMsg, /^imageLabelPairs\[0\]\.label: must not contain U\+0000/);
    }
    const view = await (await fetch(`${base}/indexes/${indexKey}`)).json() as any;
    t.same(view.result.idMap, { 0: 'drink \u{1F964} 安慕希' }, 'the index is unchanged');
  });

  t.test(`${name}: the store refuses them for library callers too (ERR_INPUT, nothing written)`, async (t) => {
    const store = openIndexStore(specOf());
    t.teardown(() => store.close());
    const index = IndexData.create(8, 'Flat', 'IP');
    await index.add(unitVectors(2, 8, 3), ['ok', 'bad\u0000']);
    const before = (await store.list()).length;
    await t.rejects(store.create(index), { code: 'ERR_INPUT', message: /label #1: must not contain U\+0000/ });
    t.equal((await store.list()).length, before, 'no index created');
    const good = IndexData.create(8, 'Flat', 'IP');
    await good.add(unitVectors(1, 8, 4), ['ok']);
    const key = await store.create(good);
    await t.rejects(store.append(key, (ix) => ix.add(unitVectors(1, 8, 5), ['\ud83d'])), { code: 'ERR_INPUT' });
    t.same(await store.idMap(key), [[0, 'ok']], 'the append wrote nothing');
    const more = await store.append(key, (ix) => ix.add(unitVectors(1, 8, 6), ['\u{1F600}']));
    t.same(more, [[0, 'ok'], [1, '\u{1F600}']], 'and the store still takes good labels');
  });
}
