// The Recognise view: an image (picked, dropped, pasted or given by URL) sent
// to /shitu-infer; the answer drawn over the image (one outlined box per
// detected object, tagged "label score", unmatched boxes dashed), the top-k list
// per box with its detection score, and the per-stage timings (Server-Timing).
import { api, ApiError, DetectedObject, fileToBase64, Timing } from './api';
import { byId, el, fmtScore, labelColours, showMessage } from './dom';
import { indexKey, onIndexChange } from './index-selection';

interface Query {
  /** The service's `image` field: Base64 of the file, or an http(s) URL. */
  image: string;
  /** What the <img> shows. */
  src: string;
  name: string;
}

let query: Query | undefined;
let objectUrl: string | undefined;
let seq = 0;
let inFlight: AbortController | undefined;

const numberOf = (id: string): number | undefined => {
  const v = byId<HTMLInputElement>(id).value.trim();
  return v === '' ? undefined : Number(v);
};

function setQuery(q: Query): void {
  query = q;
  void run();
}

async function setFile(file: File): Promise<void> {
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = URL.createObjectURL(file);
  const src = objectUrl;
  try {
    setQuery({ image: await fileToBase64(file), src, name: file.name || 'pasted image' });
  } catch (e) {
    showMessage(byId('recognise-error'), (e as Error).message);
  }
}

function setUrl(url: string): void {
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = undefined;
  setQuery({ image: url, src: url, name: url });
}

/** Sends the current query with the current settings; a newer run supersedes an older one. */
export async function run(): Promise<void> {
  if (!query) return;
  const q = query;
  const mine = ++seq;
  inFlight?.abort();
  const ac = (inFlight = new AbortController());
  const status = byId('recognise-status');
  const error = byId('recognise-error');
  status.textContent = `Recognising ${q.name}…`;
  byId('view-recognise').setAttribute('aria-busy', 'true');
  const settings = { detThreshold: numberOf('det-threshold'), recThreshold: numberOf('rec-threshold'), topk: numberOf('topk') };
  try {
    const key = indexKey();
    const reply = await api.infer({ image: q.image, indexKey: key || undefined, ...settings }, ac.signal);
    if (mine !== seq) return;
    const img = byId<HTMLImageElement>('query-img');
    if (img.getAttribute('src') !== q.src) img.src = q.src;
    await img.decode().catch(() => undefined); // a URL the browser cannot show: the list still tells
    if (mine !== seq) return;
    showMessage(error, '');
    render(reply.result.detectedObjects, reply.timings, reply.roundTripMs, img);
    const n = reply.result.detectedObjects.length;
    status.textContent = `${q.name}: ${n} object${n === 1 ? '' : 's'} detected`;
  } catch (e) {
    if (mine !== seq || (e as Error).name === 'AbortError') return;
    byId('result').hidden = true;
    status.textContent = '';
    showMessage(error, e instanceof ApiError ? `${e.status ? `HTTP ${e.status}: ` : ''}${e.message}` : String(e));
  } finally {
    if (mine === seq) byId('view-recognise').removeAttribute('aria-busy');
  }
}

function render(objects: DetectedObject[], timings: Timing[], roundTripMs: number, img: HTMLImageElement): void {
  byId('result').hidden = false;
  const W = img.naturalWidth || 1;
  const H = img.naturalHeight || 1;
  const boxes = byId('boxes');
  const list = byId('objects');
  boxes.replaceChildren();
  list.replaceChildren();
  objects.forEach((o, i) => {
    const [x1, y1, x2, y2] = o.bbox;
    const best = o.recResults[0];
    const colour = best ? labelColours(best.label) : undefined;
    const box = el('div', {
      className: best ? 'box' : 'box unmatched',
      attrs: { 'data-index': String(i), 'data-bbox': JSON.stringify(o.bbox), 'data-label': best?.label ?? '' },
    });
    box.style.left = `${(x1 / W) * 100}%`;
    box.style.top = `${(y1 / H) * 100}%`;
    box.style.width = `${((x2 - x1) / W) * 100}%`;
    box.style.height = `${((y2 - y1) / H) * 100}%`;
    if (colour) {
      box.style.setProperty('--c', colour.box);
      box.style.setProperty('--t', colour.text);
    }
    // A box at the top edge carries its tag inside.
    if ((y1 / H) * (img.clientHeight || H) < 22) box.classList.add('tag-inside');
    box.append(el('span', { className: 'tag', text: best ? `${best.label} ${fmtScore(best.score)}` : `no match ${fmtScore(o.score)}` }));
    boxes.append(box);

    const head = best ? `${best.label} ${fmtScore(best.score)}` : 'no match';
    const item = el(
      'li',
      { className: best ? '' : 'unmatched', attrs: { 'data-index': String(i) } },
      el('div', { className: 'head', text: head }),
      el('div', {
        className: 'meta',
        text: `detection score ${fmtScore(o.score)} · box [${o.bbox.map((v) => Math.round(v)).join(', ')}]`,
      }),
      best
        ? el('ol', {}, ...o.recResults.map((r) => el('li', {}, `${r.label} `, el('span', { className: 'score', text: fmtScore(r.score) }))))
        : el('div', { className: 'meta', text: 'nothing in the index above the recognition threshold' }),
    );
    if (colour) item.style.setProperty('--c', colour.box);
    item.tabIndex = 0;
    const highlight = (on: boolean) => box.classList.toggle('highlight', on);
    item.addEventListener('mouseenter', () => highlight(true));
    item.addEventListener('mouseleave', () => highlight(false));
    item.addEventListener('focus', () => highlight(true));
    item.addEventListener('blur', () => highlight(false));
    list.append(item);
  });
  if (!objects.length) list.append(el('li', { className: 'unmatched', text: 'no object above the detection threshold' }));

  const rows = [...timings.map((t) => [t.desc, t.ms] as const), ['round trip (browser)', roundTripMs] as const];
  byId('timings').querySelector('tbody')!.replaceChildren(
    ...rows.map(([name, ms]) => el('tr', {}, el('td', { text: name }), el('td', { text: ms.toFixed(1) }))),
  );
  const key = indexKey();
  byId('picture-caption').textContent = `${W}×${H} px · ${objects.length} object${objects.length === 1 ? '' : 's'} · index ${key || 'server default'}`;
}

function firstImage(list: FileList | DataTransferItemList | null | undefined): File | undefined {
  if (!list) return undefined;
  for (const x of Array.from(list as ArrayLike<File | DataTransferItem>)) {
    const f = x instanceof File ? x : x.kind === 'file' ? x.getAsFile() : null;
    if (f) return f;
  }
  return undefined;
}

export function initRecognise(): void {
  const fileInput = byId<HTMLInputElement>('query-file');
  fileInput.addEventListener('change', () => {
    const f = fileInput.files?.[0];
    if (f) void setFile(f);
    fileInput.value = ''; // picking the same file again re-runs it
  });
  byId<HTMLFormElement>('url-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const url = byId<HTMLInputElement>('query-url').value.trim();
    if (url) setUrl(url);
  });
  const view = byId('view-recognise');
  const zone = byId('drop-zone');
  view.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('dragging');
  });
  view.addEventListener('dragleave', (ev) => {
    if (!view.contains(ev.relatedTarget as Node | null)) zone.classList.remove('dragging');
  });
  view.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('dragging');
    const f = firstImage(ev.dataTransfer?.files);
    const uri = ev.dataTransfer?.getData('text/uri-list')?.split('\n').find((l) => /^https?:\/\//i.test(l.trim()));
    if (f) void setFile(f);
    else if (uri) {
      byId<HTMLInputElement>('query-url').value = uri.trim();
      setUrl(uri.trim());
    }
  });
  document.addEventListener('paste', (ev) => {
    if (view.hidden) return;
    const f = firstImage(ev.clipboardData?.items);
    if (f) {
      ev.preventDefault();
      void setFile(f);
      return;
    }
    const t = ev.target as HTMLElement | null;
    const text = ev.clipboardData?.getData('text')?.trim() ?? '';
    if (/^https?:\/\/\S+$/i.test(text) && !(t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement)) {
      ev.preventDefault();
      byId<HTMLInputElement>('query-url').value = text;
      setUrl(text);
    }
  });
  for (const id of ['det-threshold', 'rec-threshold', 'topk']) byId(id).addEventListener('change', () => void run());
  onIndexChange(() => void run());
}
