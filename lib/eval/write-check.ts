// Writes a gallery check to a directory: check.json, check.md and, when the
// gallery has pictures, pairs.jpg (the worst conflicts and duplicates side by side).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../pipeline/result';
import type { GalleryCheckReport } from './gallery-check';
import { drawPairs, PicturePair } from './pair-picture';

const cell = (s: string | null) => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
const f3 = (v: number | null) => (v === null ? 'n/a' : v.toFixed(3));
const who = (e: { id: number; label: string; image: string | null }) => `#${e.id} ${cell(e.label)}${e.image ? ` (${cell(path.basename(e.image))})` : ''}`;

export function checkMarkdown(r: GalleryCheckReport): string {
  const t = r.thresholds;
  return [
    '# Gallery check',
    '',
    `${r.entries} entries, ${r.labels} labels, metric ${r.metricType}. Conflicts: nearest other-label neighbour at cosine >= ${t.conflictSimilarity}; ` +
      `near duplicates >= ${t.nearDuplicateSimilarity}; outliers: mean similarity to their label < ${t.outlierSimilarity} or below their best other label.`,
    '',
    `## Conflicts (${r.conflicts.length})`,
    '',
    ...(r.conflicts.length ? ['| entry | nearest other label | similarity | best own label | likely mislabelled |', '|---|---|---:|---:|---|',
      ...r.conflicts.map((c) => `| ${who(c.entry)} | ${who(c.neighbour)} | ${f3(c.similarity)} | ${f3(c.ownLabelBest)} | ${c.likelyMislabelled ? `yes: looks like ${cell(c.suggestedLabel)}` : ''} |`)] : ['None.']),
    '',
    `## Duplicates (${r.duplicates.length})`,
    '',
    ...(r.duplicates.length ? ['| a | b | similarity | exact | same label |', '|---|---|---:|---|---|',
      ...r.duplicates.map((d) => `| ${who(d.a)} | ${who(d.b)} | ${d.similarity.toFixed(4)} | ${d.exact ? 'yes' : ''} | ${d.sameLabel ? 'yes' : 'no'} |`)] : ['None.']),
    '',
    `## Outliers (${r.outliers.length})`,
    '',
    ...(r.outliers.length ? ['| entry | mean similarity to its label | best other label |', '|---|---:|---:|',
      ...r.outliers.map((o) => `| ${who(o.entry)} | ${f3(o.meanOwnSimilarity)} | ${f3(o.bestOtherSimilarity)} |`)] : ['None.']),
    '',
    '## Label spread',
    '',
    '| label | entries | mean similarity | farthest pair |', '|---|---:|---:|---:|',
    ...r.spread.map((s) => `| ${cell(s.label)} | ${s.entries} | ${f3(s.meanSimilarity)} | ${f3(s.minSimilarity)} |`),
    '',
    '## No main body',
    '',
    r.noMainBody === null ? 'Not looked for (no pictures).' : r.noMainBody.length ? r.noMainBody.map((e) => `- ${who(e)}`).join('\n') : 'Every picture has one.',
    '',
    worstPairs(r).length ? '![worst pairs](pairs.jpg)\n' : '',
  ].join('\n');
}

/** The pairs worth a look, worst first: likely mislabels, then conflicts, then duplicates under different labels, then the rest. */
export function worstPairs(r: GalleryCheckReport): PicturePair[] {
  const out: PicturePair[] = [];
  const seen = new Set<string>();
  const add = (a: { id: number; label: string; image: string | null }, b: typeof a, similarity: number, note: string) => {
    const key = [a.id, b.id].sort((x, y) => x - y).join(',');
    if (!a.image || !b.image || seen.has(key)) return;
    seen.add(key);
    out.push({ a: { image: a.image, label: a.label }, b: { image: b.image, label: b.label }, similarity, note });
  };
  for (const c of r.conflicts) add(c.entry, c.neighbour, c.similarity, c.likelyMislabelled ? 'mislabelled?' : 'conflict');
  for (const d of r.duplicates) add(d.a, d.b, d.similarity, d.exact ? 'duplicate' : 'near duplicate');
  return out;
}

export async function writeCheck(r: GalleryCheckReport, dir: string): Promise<string[]> {
  await fs.promises.mkdir(dir, { recursive: true });
  const written: string[] = [];
  const put = async (name: string, data: string | Buffer) => { const f = path.join(dir, name); await writeFileAtomic(f, data); written.push(f); };
  await put('check.json', JSON.stringify(r, null, 2) + '\n');
  await put('check.md', checkMarkdown(r));
  const picture = await drawPairs(worstPairs(r));
  if (picture) await put('pairs.jpg', picture);
  return written;
}
