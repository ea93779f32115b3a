// A writer process on a file store directory (test/store/file-store-processes.test.ts,
// bench/soak-file-store.ts): `<indexDir> <indexKey> <writer> <firstSeq> <mode> [count]`.
// Modes: `add` makes `count` adds of one entry each, then exits; `mix` loops for
// ever over adds (1 to 3 entries), removes (1 or 2 entries of the index) and,
// now and then, a build of a new index, until it is killed. Before each write
// it prints {begin: op}; after the store has saved it, {ack: op}: a line on a
// pipe is written synchronously on Linux, so a line the parent read is a write
// that was acknowledged. Labels are `w<writer>-<seq>-<i>`, never repeated.
// Plain JS over dist/ (built by `npx tsc`): a child that starts in a few tenths
// of a second, so a test can kill and restart it dozens of times.
'use strict';
const crypto = require('node:crypto');
const { FileIndexStore } = require('../../dist/lib/store/file-store');
const { IndexData } = require('../../dist/lib/vector-index/index-data');

const DIM = 8;
const [dir, indexKey, writer, firstSeq, mode, count] = process.argv.slice(2);
const store = new FileIndexStore(dir);
let seq = Number(firstSeq);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const vectors = (n) => Float32Array.from({ length: n * DIM }, () => Math.random() - 0.5);
const labels = (n) => Array.from({ length: n }, (_, i) => `w${writer}-${seq}-${i}`);

async function add(n) {
  const op = { op: 'add', key: indexKey, labels: labels(n) };
  seq++;
  say({ begin: op });
  await store.append(indexKey, (index) => index.add(vectors(n), op.labels));
  say({ ack: op });
}

async function remove() {
  const index = await store.get(indexKey);
  const entries = index.idMapEntries;
  if (entries.length < 4) return add(2);
  const picked = new Set();
  const n = 1 + Math.floor(Math.random() * 2);
  while (picked.size < n) picked.add(entries[Math.floor(Math.random() * entries.length)]);
  const ids = [...picked].map(([id]) => id);
  const op = { op: 'remove', key: indexKey, labels: [...picked].map(([, label]) => label) };
  say({ begin: op });
  try {
    await store.remove(indexKey, ids);
  } catch (e) {
    // Another writer removed one of them first (concurrent mode): nothing removed.
    if (e.code === 'ERR_INDEX_ID') return say({ skipped: op });
    throw e;
  }
  say({ ack: op });
}

async function build() {
  const key = crypto.randomUUID();
  const index = IndexData.create(DIM, 'Flat', 'IP');
  const op = { op: 'build', key, labels: labels(2) };
  seq++;
  await index.add(vectors(2), op.labels);
  say({ begin: op });
  await store.create(index, key);
  say({ ack: op });
}

async function main() {
  say({ ready: process.pid });
  if (mode === 'add') {
    for (let i = 0; i < Number(count); i++) await add(1);
    await store.close();
    return;
  }
  for (;;) {
    const r = Math.random();
    if (r < 0.55) await add(1 + Math.floor(Math.random() * 3));
    else if (r < 0.9) await remove();
    else await build();
  }
}

main().catch((e) => {
  process.stderr.write(`${e.code ?? ''} ${e.stack}\n`);
  process.exit(1);
});
