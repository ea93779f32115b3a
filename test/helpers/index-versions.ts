// Child processes for test/vector-index/save.test.ts. Each version v of an index has
// (v % 5) + 3 vectors labelled `v{v}-{i}`, so a reader can tell a complete
// version from a mix of two.
//   save-loop DIR FROM TO     saves versions FROM..TO to DIR, printing each after its save
//   read-loop DIR STOPFILE    loads DIR until STOPFILE exists; prints {loads, bad: [...]}
import * as fs from 'node:fs';
import { IndexData } from '../../lib/index';

export const DIM = 8;

export function versionIndex(v: number): IndexData {
  const n = (v % 5) + 3;
  const index = IndexData.create(DIM, 'Flat', 'IP');
  const vecs = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) vecs[i * DIM + (i % DIM)] = 1;
  void index.add(vecs, Array.from({ length: n }, (_, i) => `v${v}-${i}`));
  return index;
}

/** The version a loaded index is, or a description of what is wrong with it. */
export function versionOf(index: IndexData): number | string {
  const labels = index.idMapEntries.map(([, l]) => l);
  const v = Number(/^v(\d+)-/.exec(labels[0] ?? '')?.[1]);
  if (!Number.isInteger(v)) return `no version in ${JSON.stringify(labels[0])}`;
  const n = (v % 5) + 3;
  if (labels.length !== n || index.count !== n) return `version ${v} with ${labels.length} labels and ${index.count} vectors`;
  if (!labels.every((l, i) => l === `v${v}-${i}`)) return `version ${v} mixed with another: ${labels.join(',')}`;
  return v;
}

async function main() {
  const [mode, dir, a, b] = process.argv.slice(2);
  if (mode === 'save-loop') {
    for (let v = Number(a); v <= Number(b); v++) {
      const index = versionIndex(v);
      await index.lock.write(async () => undefined); // the add above has finished
      await index.save(dir);
      process.stdout.write(`${v}\n`);
    }
  } else if (mode === 'read-loop') {
    let loads = 0;
    const bad: string[] = [];
    while (!fs.existsSync(a)) {
      try {
        const r = versionOf(await IndexData.load(dir));
        if (typeof r === 'string') bad.push(r);
      } catch (e) {
        bad.push(`${(e as { code?: string }).code}: ${(e as Error).message}`);
      }
      loads++;
      // The test starts saving once the reader is running (a loaded machine can take seconds to start it).
      if (loads === 1) process.stdout.write('ready\n');
    }
    process.stdout.write(JSON.stringify({ loads, bad: bad.slice(0, 20), badCount: bad.length }) + '\n');
  }
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
