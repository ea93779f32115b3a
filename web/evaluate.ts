// The Evaluate view: how well a gallery recognises (POST /shitu-eval). The
// gallery is the chosen index, or a folder of pictures with its label file;
// the queries a folder with its label file ("-" marks an item to reject), or
// none: leave-one-out. Shows Recall@1/5 and mAP, the threshold chart with the
// current threshold (the Recognise view's) and the suggested one, which a
// button applies to the page's queries, and the conflicting gallery pairs
// with thumbnails (when the gallery's pictures are in the page).
import { api, ApiError, EvalAnswer, fileToBase64, ImageLabelPair } from './api';
import type { EntryRef } from '../lib/eval/gallery-check';
import { byId, el, fmtScore, showMessage } from './dom';
import { indexKey } from './index-selection';
import { FolderItem, readFolder } from './label-file';

/** Gallery pictures of the last run by entry id (their thumbnails). */
let galleryFiles: File[] = [];
let thumbUrls: string[] = [];
let suggested: number | null = null;
let busy = false;

const pct = (v: number | null) => (v === null || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(1)} %`);

async function picked(id: string): Promise<{ items: FolderItem[]; labelFile?: string } | null> {
  const files = [...(byId<HTMLInputElement>(id).files ?? [])];
  if (!files.length) return null;
  return readFolder(files);
}

function pairsOf(items: FolderItem[], what: string): Promise<ImageLabelPair[]> {
  const unlabelled = items.filter((i) => i.label === undefined).map((i) => i.relPath);
  if (unlabelled.length) throw new ApiError(0, `${what}: no label for ${unlabelled.slice(0, 5).join(', ')}${unlabelled.length > 5 ? ` and ${unlabelled.length - 5} more` : ''} (the label file must list every picture)`);
  return Promise.all(items.map(async (i) => ({ image: await fileToBase64(i.file), label: i.label as string })));
}

function svgImage(svg: string, alt: string): HTMLImageElement {
  // As an <img>: the SVG is shown, never run (no script, no page access).
  return el('img', { className: 'chart', attrs: { src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`, alt } });
}

function thumb(e: EntryRef): HTMLElement {
  const f = galleryFiles[e.id];
  if (!f) return el('span', { className: 'hint', text: `#${e.id}` });
  thumbUrls[e.id] ??= URL.createObjectURL(f);
  return el('img', { className: 'thumb', attrs: { src: thumbUrls[e.id], alt: `#${e.id} ${e.label}` } });
}

function render(a: EvalAnswer): void {
  const r = a.report;
  suggested = r.image.sweep.suggested;
  const rows: Array<[string, string]> = [
    ['Queries', `${r.queries.total} (${r.image.known} known, ${r.image.unknown} unknown; ${r.mode}), no main body in ${r.queries.noMainBody}`],
    ['Recall@1', `${pct(r.image.recall1)} per image, ${pct(r.box.recall1)} per box`],
    ['Recall@5', `${pct(r.image.recall5)} per image, ${pct(r.box.recall5)} per box`],
    [`mAP@${r.topk}`, `${pct(r.image.mAP)} per image, ${pct(r.box.mAP)} per box`],
    ['Current threshold', fmtScore(r.currentThreshold)],
    ['Suggested threshold', suggested === null ? 'none' : `${fmtScore(suggested)} (best F1 ${pct(r.image.sweep.bestF1?.f1 ?? null)}, precision ${pct(r.image.sweep.bestF1?.precision ?? null)}, recall ${pct(r.image.sweep.bestF1?.recall ?? null)})`],
    [`Precision ≥ ${r.image.sweep.targetPrecision.target} from`, r.image.sweep.targetPrecision.row ? fmtScore(r.image.sweep.targetPrecision.row.threshold) : 'never reached'],
  ];
  byId('eval-summary').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
  byId('eval-charts').replaceChildren(svgImage(a.charts.threshold, 'Precision, recall of known items, rejection of unknown items and accept rate against the recognition threshold'),
    svgImage(a.charts.scores, 'Top-1 scores of correct, wrong and unknown answers'));
  const apply = byId<HTMLButtonElement>('eval-apply');
  apply.hidden = suggested === null;
  if (suggested !== null) apply.textContent = `Use ${fmtScore(suggested)} for recognition`;
  const body = byId<HTMLTableElement>('eval-conflicts').tBodies[0];
  const conflicts = a.check?.conflicts ?? [];
  byId('eval-conflicts').hidden = conflicts.length === 0;
  byId('eval-conflicts-none').hidden = conflicts.length > 0;
  body.replaceChildren(...conflicts.slice(0, 50).map((c) => el('tr', { className: c.likelyMislabelled ? 'mislabelled' : '' },
    el('td', {}, thumb(c.entry), el('span', { text: ` #${c.entry.id} ${c.entry.label}` })),
    el('td', {}, thumb(c.neighbour), el('span', { text: ` #${c.neighbour.id} ${c.neighbour.label}` })),
    el('td', { className: 'num', text: fmtScore(c.similarity) }),
    el('td', { text: c.likelyMislabelled ? `likely mislabelled: looks like ${c.suggestedLabel}` : 'conflict' }))));
  byId('eval-result').hidden = false;
}

async function runEvaluation(): Promise<void> {
  if (busy) return;
  const status = byId('eval-status');
  const error = byId('eval-error');
  showMessage(error, '');
  busy = true;
  byId<HTMLButtonElement>('eval-run').disabled = true;
  byId('view-evaluate').setAttribute('aria-busy', 'true');
  try {
    const gallery = await picked('eval-gallery-folder');
    const queries = await picked('eval-query-folder');
    if (!gallery && !indexKey()) throw new ApiError(0, 'Choose a gallery index, or a folder of gallery pictures with its label file.');
    status.textContent = 'Reading the pictures…';
    const imageLabelPairs = gallery ? await pairsOf(gallery.items, 'gallery folder') : undefined;
    const queryPairs = queries ? await pairsOf(queries.items, 'query folder') : undefined;
    thumbUrls.forEach((u) => u && URL.revokeObjectURL(u));
    thumbUrls = [];
    galleryFiles = gallery ? gallery.items.map((i) => i.file) : [];
    status.textContent = `Evaluating ${queryPairs ? `${queryPairs.length} queries` : 'leave-one-out'} against ${gallery ? `${gallery.items.length} pictures` : 'the index'}…`;
    const target = Number(byId<HTMLInputElement>('eval-target').value);
    const rec = byId<HTMLInputElement>('rec-threshold').value.trim();
    const det = byId<HTMLInputElement>('det-threshold').value.trim();
    const { result } = await api.evaluate({
      indexKey: gallery ? undefined : indexKey(),
      imageLabelPairs, queries: queryPairs, leaveOneOut: queryPairs ? undefined : true,
      targetPrecision: Number.isFinite(target) && target > 0 ? target : undefined,
      recThreshold: rec === '' ? undefined : Number(rec),
      detThreshold: det === '' ? undefined : Number(det),
    });
    render(result);
    status.textContent = `Evaluated in ${result.report.run.seconds.toFixed(1)} s.`;
  } catch (e) {
    status.textContent = '';
    showMessage(error, (e as Error).message);
  } finally {
    busy = false;
    byId<HTMLButtonElement>('eval-run').disabled = false;
    byId('view-evaluate').removeAttribute('aria-busy');
  }
}

/** Sets the Recognise view's threshold (its change re-runs the current query). */
function applySuggested(): void {
  if (suggested === null) return;
  const input = byId<HTMLInputElement>('rec-threshold');
  input.value = String(Number(suggested.toFixed(4)));
  input.dispatchEvent(new Event('change'));
  byId('eval-status').textContent = `The recognition threshold is now ${input.value}.`;
}

export function initEvaluate(): void {
  byId('eval-run').addEventListener('click', () => void runEvaluation());
  byId('eval-apply').addEventListener('click', applySuggested);
}
