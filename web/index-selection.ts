// The chosen gallery index: one for the whole page, shown in the header's
// select and carried in the page's URL (/?indexKey=...), so that a link opens
// the page on that gallery.
import { api, ApiError, IndexListEntry } from './api';
import { byId, el } from './dom';

type Listener = (indexKey: string) => void;
const listeners: Listener[] = [];
let current = new URLSearchParams(location.search).get('indexKey')?.toLowerCase() ?? '';
let known: IndexListEntry[] = [];

const select = () => byId<HTMLSelectElement>('index-select');

/** '' when no index is chosen: recognition uses the server's default, the gallery creates a new one. */
export function indexKey(): string {
  return current;
}

export function onIndexChange(f: Listener): void {
  listeners.push(f);
}

export function setIndexKey(key: string): void {
  const changed = key !== current;
  current = key;
  const url = new URL(location.href);
  if (key) url.searchParams.set('indexKey', key);
  else url.searchParams.delete('indexKey');
  history.replaceState(null, '', url);
  renderOptions();
  if (changed) for (const f of listeners) f(key);
}

function optionText(e: IndexListEntry): string {
  const when = new Date(e.modified);
  const date = Number.isNaN(when.getTime()) ? '' : ` · saved ${when.toLocaleString()}`;
  return `${e.indexKey}${date}`;
}

function renderOptions(): void {
  const s = select();
  s.replaceChildren(el('option', { text: 'none (server default) / new index', attrs: { value: '' } }));
  const entries = [...known];
  if (current && !entries.some((e) => e.indexKey === current)) entries.unshift({ indexKey: current, modified: '' });
  for (const e of entries) s.append(el('option', { text: optionText(e), attrs: { value: e.indexKey } }));
  s.value = current;
}

/** Reloads the list of indexes from the service; failures leave the old list. */
export async function refreshIndexList(): Promise<ApiError | undefined> {
  try {
    known = (await api.listIndexes()).result.indexes;
    renderOptions();
    return undefined;
  } catch (e) {
    renderOptions();
    if (e instanceof ApiError) return e;
    throw e;
  }
}

export function initIndexSelection(): void {
  renderOptions();
  select().addEventListener('change', () => setIndexKey(select().value));
}
