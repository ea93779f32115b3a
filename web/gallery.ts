// The Gallery view: the chosen index's summary and id map (search, remove),
// and adding images with labels (several files, or a folder with its label
// file) in batches with progress. A new index is built by the first batch.
// A bad file costs only itself: the service names its position, the page
// keeps it in the list with the message and sends the rest again.
import { api, ApiError, fileToBase64, IdMap, ImageLabelPair } from './api';
import type { IndexType, MetricType } from '../lib/vector-index/index-types';
import { byId, el, showMessage } from './dom';
import { indexKey, onIndexChange, refreshIndexList, setIndexKey } from './index-selection';
import { readFolder } from './label-file';

/** Images per request, and the Base64 bytes one request may carry (well under the service's body limit). */
const BATCH_IMAGES = 8;
const BATCH_BYTES = 12 * 1024 * 1024;
/** Id map rows rendered at once; the filter narrows the rest. */
const MAX_ROWS = 500;

interface Pending {
  file: File;
  name: string;
  label: string;
  error?: string;
}

let pending: Pending[] = [];
let idMap: IdMap = {};
let busy = false;
let loadSeq = 0;
/** Ids the search matches (all of them, not only the rows rendered). */
let matching: number[] = [];

function setBusy(on: boolean): void {
  busy = on;
  for (const id of ['gallery-files', 'gallery-folder', 'index-type', 'metric-type', 'clear-pending']) (byId(id) as HTMLInputElement).disabled = on;
  renderPendingActions();
}

function renderPendingActions(): void {
  const add = byId<HTMLButtonElement>('add-button');
  const n = pending.length;
  add.disabled = busy || n === 0;
  add.textContent = indexKey() ? `Add ${n} image${n === 1 ? '' : 's'} to the index` : `Create index with ${n} image${n === 1 ? '' : 's'}`;
  byId<HTMLButtonElement>('clear-pending').disabled = busy || n === 0;
}

function renderPending(): void {
  const table = byId<HTMLTableElement>('pending');
  table.hidden = pending.length === 0;
  table.tBodies[0].replaceChildren(
    ...pending.map((p) => {
      const input = el('input', { attrs: { type: 'text', 'aria-label': `Label for ${p.name}` } });
      input.value = p.label;
      input.addEventListener('input', () => {
        p.label = input.value;
      });
      const drop = el('button', { className: 'button small', text: 'Drop', attrs: { type: 'button', 'aria-label': `Drop ${p.name} from the list` } });
      drop.addEventListener('click', () => {
        pending = pending.filter((x) => x !== p);
        renderPending();
      });
      return el(
        'tr',
        { className: p.error ? 'failed' : '' },
        el('td', { text: p.name }),
        el('td', {}, input),
        el('td', {}, p.error ? el('span', { className: 'row-error', text: p.error }) : 'to add'),
        el('td', {}, drop),
      );
    }),
  );
  renderPendingActions();
}

function addPending(items: Pending[]): void {
  pending.push(...items);
  renderPending();
}

function renderSummary(view?: { indexKey: string; indexType: string; metricType: string; count: number }): void {
  const s = byId('index-summary');
  byId('new-index').hidden = !!indexKey();
  if (!indexKey()) s.textContent = 'No index chosen: the images you add below create a new one (pick its type and metric).';
  else if (view) s.textContent = `Index ${view.indexKey} · ${view.indexType} · ${view.metricType} · ${view.count} vector${view.count === 1 ? '' : 's'} · link: ${location.href}`;
  else s.textContent = `Index ${indexKey()}`;
}

function renderIdMap(): void {
  const q = byId<HTMLInputElement>('idmap-filter').value.trim().toLowerCase();
  const all = Object.entries(idMap).map(([id, label]) => [Number(id), label] as const).sort((a, b) => a[0] - b[0]);
  const hits = q ? all.filter(([id, label]) => label.toLowerCase().includes(q) || String(id) === q) : all;
  const shown = hits.slice(0, MAX_ROWS);
  byId<HTMLTableElement>('idmap').tBodies[0].replaceChildren(
    ...shown.map(([id, label]) => {
      const remove = el('button', { className: 'button small', text: 'Remove', attrs: { type: 'button', 'aria-label': `Remove id ${id} (${label})` } });
      remove.addEventListener('click', () => void removeIds([id]));
      return el('tr', { attrs: { 'data-id': String(id) } }, el('td', { text: String(id) }), el('td', { text: label }), el('td', {}, remove));
    }),
  );
  const bulk = byId<HTMLButtonElement>('remove-matching');
  bulk.hidden = !q || hits.length === 0;
  bulk.textContent = `Remove the ${hits.length} matching entr${hits.length === 1 ? 'y' : 'ies'}`;
  matching = hits.map(([id]) => id);
  byId('idmap-count').textContent =
    `${hits.length === all.length ? `${all.length} entr${all.length === 1 ? 'y' : 'ies'}` : `${hits.length} of ${all.length} entries match`}` +
    (shown.length < hits.length ? ` (first ${shown.length} shown: narrow the search)` : '');
}

/** Loads the chosen index's summary and id map. */
export async function loadIndex(): Promise<void> {
  const mine = ++loadSeq;
  const key = indexKey();
  renderPendingActions();
  renderSummary();
  if (!key) {
    idMap = {};
    renderIdMap();
    return;
  }
  try {
    const view = (await api.readIndex(key)).result;
    if (mine !== loadSeq) return;
    idMap = view.idMap;
    renderSummary(view);
    renderIdMap();
  } catch (e) {
    if (mine !== loadSeq) return;
    idMap = {};
    renderIdMap();
    showMessage(byId('gallery-error'), describe(e));
  }
}

function describe(e: unknown): string {
  return e instanceof ApiError ? `${e.status ? `HTTP ${e.status}: ` : ''}${e.message}` : String(e);
}

async function removeIds(ids: number[]): Promise<void> {
  const key = indexKey();
  if (!key) return;
  try {
    idMap = (await api.remove(key, ids)).result.idMap;
    showMessage(byId('gallery-error'), '');
    renderIdMap();
    void loadIndex();
  } catch (e) {
    showMessage(byId('gallery-error'), describe(e));
  }
}

/** "imageLabelPairs[2].image: cannot decode …; imageLabelPairs[4].label: …" -> position -> message */
function positionsIn(message: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const part of message.split(/;\s+(?=imageLabelPairs\[)/)) {
    const m = /^imageLabelPairs\[(\d+)\](?:\.\w+)?:\s*(.*)$/s.exec(part.trim());
    if (m) out.set(Number(m[1]), m[2]);
  }
  return out;
}

function batches(items: Pending[]): Pending[][] {
  const out: Pending[][] = [];
  let cur: Pending[] = [];
  let bytes = 0;
  for (const it of items) {
    const b = Math.ceil(it.file.size / 3) * 4;
    if (cur.length && (cur.length >= BATCH_IMAGES || bytes + b > BATCH_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += b;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * Sends one batch; images the service names as bad are set aside with its
 * message and the rest sent again. Returns the items added. Throws (the batch
 * kept, each item carrying the message) when the service refuses the batch as a whole.
 */
async function sendBatch(items: Pending[]): Promise<Pending[]> {
  let rest = items;
  while (rest.length) {
    const pairs: ImageLabelPair[] = await Promise.all(rest.map(async (it) => ({ image: await fileToBase64(it.file), label: it.label.trim() })));
    try {
      const key = indexKey();
      if (key) idMap = (await api.add(key, pairs)).result.idMap;
      else {
        // The two selects hold INDEX_TYPES and METRIC_TYPES only (contract.ts fills them).
        const type = byId<HTMLSelectElement>('index-type').value as IndexType;
        const metric = byId<HTMLSelectElement>('metric-type').value as MetricType;
        const built = (await api.build(pairs, type, metric)).result;
        idMap = built.idMap;
        setIndexKey(built.indexKey);
        await refreshIndexList();
      }
      renderIdMap();
      return rest;
    } catch (e) {
      if (e instanceof ApiError && e.status === 413 && rest.length > 1) {
        const half = Math.ceil(rest.length / 2);
        const a = await sendBatch(rest.slice(0, half));
        return [...a, ...(await sendBatch(rest.slice(half)))];
      }
      const bad = e instanceof ApiError && (e.status === 400 || e.status === 422) ? positionsIn(e.message) : new Map<number, string>();
      if (!bad.size || [...bad.keys()].some((i) => i >= rest.length)) {
        for (const it of rest) it.error = describe(e);
        throw e;
      }
      for (const [i, msg] of bad) rest[i].error = msg;
      rest = rest.filter((_, i) => !bad.has(i));
    }
  }
  return [];
}

async function addAll(): Promise<void> {
  if (busy || !pending.length) return;
  const error = byId('gallery-error');
  showMessage(error, '');
  for (const p of pending) p.error = p.label.trim() ? undefined : 'needs a label';
  const todo = pending.filter((p) => !p.error);
  const progress = byId<HTMLProgressElement>('add-progress');
  const text = byId('add-progress-text');
  byId('add-progress-wrap').hidden = false;
  progress.max = Math.max(1, todo.length);
  progress.value = 0;
  let done = 0;
  let handled = 0;
  const update = () => {
    progress.value = handled;
    text.textContent = `${done} of ${todo.length} image${todo.length === 1 ? '' : 's'} embedded and added` + (handled > done ? `, ${handled - done} not added` : '');
  };
  update();
  setBusy(true);
  let stopped: unknown;
  try {
    for (const batch of batches(todo)) {
      try {
        const added = await sendBatch(batch);
        pending = pending.filter((p) => !added.includes(p));
        done += added.length;
        handled += batch.length;
      } catch (e) {
        stopped = e;
        break;
      } finally {
        update();
        renderPending();
      }
    }
  } finally {
    setBusy(false);
  }
  const failed = pending.filter((p) => p.error);
  const lines = failed.map((p) => `${p.name}: ${p.error}`);
  if (stopped) lines.unshift(`Stopped: ${describe(stopped)}. The images not yet added are still in the list.`);
  else if (failed.length) lines.unshift(`${failed.length} image${failed.length === 1 ? ' was' : 's were'} not added (still in the list):`);
  showMessage(error, lines.join('\n'));
  renderPending();
  void loadIndex();
}

export function initGallery(): void {
  const files = byId<HTMLInputElement>('gallery-files');
  files.addEventListener('change', () => {
    const label = byId<HTMLInputElement>('default-label').value.trim();
    addPending(Array.from(files.files ?? []).map((file) => ({ file, name: file.name, label })));
    files.value = '';
  });
  const folder = byId<HTMLInputElement>('gallery-folder');
  folder.addEventListener('change', async () => {
    const picked = Array.from(folder.files ?? []);
    folder.value = '';
    const { items, labelFile } = await readFolder(picked);
    const fallback = byId<HTMLInputElement>('default-label').value.trim();
    addPending(items.map((it) => ({
      file: it.file,
      name: it.relPath,
      label: it.label ?? fallback,
      error: it.label === undefined && !fallback ? (labelFile ? `not listed in ${labelFile}` : 'no label file in the folder') : undefined,
    })));
    byId('pending-note').textContent = labelFile
      ? `Labels from ${labelFile}: ${items.filter((i) => i.label !== undefined).length} of ${items.length} images listed.`
      : `No label file found in the folder (a .txt of "path label" lines).`;
  });
  byId('add-button').addEventListener('click', () => void addAll());
  byId('clear-pending').addEventListener('click', () => {
    pending = [];
    byId('pending-note').textContent = '';
    renderPending();
  });
  byId('idmap-filter').addEventListener('input', renderIdMap);
  byId('remove-matching').addEventListener('click', () => {
    const ids = [...matching];
    if (ids.length && confirm(`Remove ${ids.length} entr${ids.length === 1 ? 'y' : 'ies'} from index ${indexKey()}? This cannot be undone.`)) void removeIds(ids);
  });
  onIndexChange(() => {
    showMessage(byId('gallery-error'), '');
    void loadIndex();
  });
  renderPending();
}
