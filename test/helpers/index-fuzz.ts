// The index-file fuzz campaign's cases and its child process.
//
// A case is a seed index directory (this package's, PaddleX's and PaddleClas's
// layouts, every index type) with one structured mutation of vector.index,
// id_map.yaml or id_map.pkl: an aligned field overwritten with an interesting
// value (0, -1, 2^31, 2^63-1, ...), flipped bytes, a truncation, a spliced
// chunk, YAML tokens that mean something else, a pickle bomb. Cases are
// deterministic (seed + case number), so the parent can rebuild any case that
// crashed a child and save it.
//
//   node index-fuzz.ts SEEDS_JSON FIRST COUNT WORKDIR
// prints "C <case>" before each case and finally "R <json summary>".
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IndexData } from '../../lib/index';
import { native } from '../../lib/native/loader';

export interface Seed {
  dir: string; // vector.index + id_map.yaml | id_map.pkl
}

const INT32 = [0, 1, -1, 2, 127, 128, 255, 0x7fff, 0x8000, 0xffff, 1 << 24, 0x7fffffff, -0x80000000, 3, 64, 65536];
const INT64 = [0n, 1n, -1n, 1n << 31n, 1n << 32n, (1n << 40n), (1n << 62n), (1n << 63n) - 1n, -(1n << 63n), 1000000n, 2n, 7n];
const YAML_TOKENS = ['.inf', '-.inf', '.nan', '1e308', '9007199254740993', '-1', '~', 'null', '&a x', '*a', '!!python/object:os.system', '!!binary aGk=', '[', '{', '"', "'", '\\', '\t', '<<: *a', '? x', '- y', '|', '>', '%YAML 1.1', '---', '...', '0x7fffffffffffffff', '1:2:3:4:5', '0b', '', ': :', '#'];

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Case {
  files: Record<string, Buffer>;
  what: string;
}

function mutateBinary(b: Buffer, r: () => number, name: string): { out: Buffer; what: string } {
  const out = Buffer.from(b);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const kind = Math.floor(r() * 6);
  // Header fields sit in the first few hundred bytes: aim there half the time.
  const pos = (align: number) => {
    const limit = r() < 0.5 ? Math.min(out.length, 400) : out.length;
    return Math.floor((r() * Math.max(1, limit - align)) / align) * align + (r() < 0.3 ? Math.floor(r() * align) : 0);
  };
  if (out.length < 16 || kind === 3) {
    const n = Math.floor(r() * out.length);
    return { out: out.subarray(0, n), what: `${name}: truncated to ${n}` };
  }
  if (kind <= 1) {
    const p = Math.min(pos(4), out.length - 4);
    const v = pick(INT32);
    out.writeInt32LE(v | 0, p);
    return { out, what: `${name}: int32 at ${p} = ${v}` };
  }
  if (kind === 2) {
    const p = Math.min(pos(8), out.length - 8);
    const v = pick(INT64);
    out.writeBigInt64LE(BigInt.asIntN(64, v), p);
    return { out, what: `${name}: int64 at ${p} = ${v}` };
  }
  if (kind === 4) {
    const k = 1 + Math.floor(r() * 4);
    const at: number[] = [];
    for (let i = 0; i < k; i++) { const p = Math.floor(r() * out.length); out[p] ^= 1 << Math.floor(r() * 8); at.push(p); }
    return { out, what: `${name}: bits flipped at ${at.join(',')}` };
  }
  const a = Math.floor(r() * out.length);
  const len = Math.floor(r() * Math.min(64, out.length - a));
  const at = Math.floor(r() * out.length);
  return { out: Buffer.concat([out.subarray(0, at), out.subarray(a, a + len), out.subarray(at)]), what: `${name}: ${len} bytes from ${a} spliced in at ${at}` };
}

function mutateYaml(text: string, r: () => number): { out: Buffer; what: string } {
  const lines = text.split('\n');
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const i = Math.floor(r() * lines.length);
  const kind = Math.floor(r() * 4);
  if (kind === 0) {
    const tok = pick(YAML_TOKENS);
    const m = /^(\s*[^:]*:\s?)(.*)$/.exec(lines[i]);
    lines[i] = m ? m[1] + tok : tok + lines[i];
    return { out: Buffer.from(lines.join('\n')), what: `id_map.yaml line ${i} value -> ${JSON.stringify(tok)}` };
  }
  if (kind === 1) {
    const tok = pick(YAML_TOKENS);
    lines[i] = tok + ': ' + lines[i];
    return { out: Buffer.from(lines.join('\n')), what: `id_map.yaml line ${i} key -> ${JSON.stringify(tok)}` };
  }
  if (kind === 2) {
    lines.splice(i, 0, lines[Math.floor(r() * lines.length)]);
    return { out: Buffer.from(lines.join('\n')), what: `id_map.yaml line duplicated at ${i}` };
  }
  return mutateBinary(Buffer.from(text), r, 'id_map.yaml');
}

function pickleBomb(r: () => number): { out: Buffer; what: string } {
  const kind = Math.floor(r() * 3);
  const n = 100_000 + Math.floor(r() * 300_000);
  if (kind === 0) { // EMPTY_LIST MARK (BININT1 0)*n APPENDS STOP
    return { out: Buffer.concat([Buffer.from([0x80, 4, 0x5d, 0x28]), Buffer.alloc(n * 2, Buffer.from([0x4b, 0])), Buffer.from([0x65, 0x2e])]), what: `id_map.pkl: APPENDS of ${n} items` };
  }
  if (kind === 1) { // MARK * n
    return { out: Buffer.concat([Buffer.from([0x80, 4]), Buffer.alloc(n, 0x28), Buffer.from([0x2e])]), what: `id_map.pkl: ${n} nested MARKs` };
  }
  // a dict whose keys are lists (unhashable), then a huge BINUNICODE length
  return { out: Buffer.from([0x80, 4, 0x7d, 0x5d, 0x4b, 1, 0x73, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x2e]), what: 'id_map.pkl: list key, oversize string' };
}

export function makeCase(seeds: Seed[], caseNo: number, runSeed: number): Case {
  const r = rng(runSeed * 1_000_003 + caseNo);
  const seed = seeds[caseNo % seeds.length];
  const files: Record<string, Buffer> = {};
  for (const f of fs.readdirSync(seed.dir)) files[f] = fs.readFileSync(path.join(seed.dir, f));
  const targets = Object.keys(files);
  // vector.index most of the time: it is what FAISS trusts.
  const target = r() < 0.6 ? 'vector.index' : targets[Math.floor(r() * targets.length)];
  let m: { out: Buffer; what: string };
  if (target === 'id_map.yaml') m = mutateYaml(files[target].toString('utf8'), r);
  else if (target === 'id_map.pkl' && r() < 0.1) m = pickleBomb(r);
  else m = mutateBinary(files[target], r, target);
  files[target] = m.out;
  return { files, what: `${path.basename(seed.dir)}: ${m.what}` };
}

export function writeCase(dir: string, c: Case): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, b] of Object.entries(c.files)) fs.writeFileSync(path.join(dir, f), b);
}

const isCoded = (e: unknown) => typeof (e as { code?: unknown })?.code === 'string' && /^ERR_/.test((e as { code: string }).code);

// Everything a user might do with a loaded index.
// Saving (three fsyncs) is the slow part: every eighth case saves and reloads.
async function exercise(dir: string, work: string, save: boolean): Promise<void> {
  const index = await IndexData.load(dir);
  const dim = index.dim;
  const q = new Float32Array(dim * 2).map((_, i) => Math.cos(i));
  await index.search(q, 5);
  const ids = index.idMapEntries.map(([id]) => id);
  try { await index.add(new Float32Array(dim).fill(0.1), ['fuzz']); } catch (e) { if (!isCoded(e)) throw e; }
  if (ids.length) try { await index.remove([ids[0]]); } catch (e) { if (!isCoded(e)) throw e; }
  await index.search(q, 3);
  if (!save) return;
  const out = path.join(work, 'resaved');
  await index.save(out);
  await (await IndexData.load(out)).search(q, 2);
}

async function main() {
  const [seedsJson, first, count, work] = process.argv.slice(2);
  const { seeds, runSeed } = JSON.parse(fs.readFileSync(seedsJson, 'utf8')) as { seeds: Seed[]; runSeed: number };
  const summary = { cases: 0, loaded: 0, coded: {} as Record<string, number>, uncoded: [] as string[], maxRssMb: 0 };
  const dir = path.join(work, 'case');
  for (let i = Number(first); i < Number(first) + Number(count); i++) {
    process.stdout.write(`C ${i}\n`);
    const c = makeCase(seeds, i, runSeed);
    writeCase(dir, c);
    summary.cases++;
    try {
      // The structural check alone, then everything through the public API.
      await native.VectorIndex.readFile(path.join(dir, 'vector.index')).catch((e: unknown) => { if (!isCoded(e)) throw e; });
      await exercise(dir, work, i % 8 === 0);
      summary.loaded++;
    } catch (e) {
      if (isCoded(e)) summary.coded[(e as { code: string }).code] = (summary.coded[(e as { code: string }).code] ?? 0) + 1;
      else summary.uncoded.push(`case ${i} (${c.what}): ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
  }
  summary.maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  process.stdout.write(`R ${JSON.stringify(summary)}\n`);
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
