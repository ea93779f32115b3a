// The web app over the shitu service (served at `/` by lib/server/web-app.ts):
// three views, Recognise (the one it opens on), Gallery and Evaluate, over the same API a
// client uses. Plain TypeScript and the DOM, bundled by scripts/build-web.js.
import { apiKey, setApiKey } from './api';
import { applyContract } from './contract';
import { byId, showMessage } from './dom';
import { initEvaluate } from './evaluate';
import { initGallery, loadIndex } from './gallery';
import { initIndexSelection, refreshIndexList } from './index-selection';
import { initRecognise } from './recognise';

const VIEWS = ['recognise', 'gallery', 'evaluate'] as const;
type View = (typeof VIEWS)[number];

function showView(view: View, focusTab = false): void {
  for (const v of VIEWS) {
    const tab = byId(`tab-${v}`);
    const on = v === view;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    byId(`view-${v}`).hidden = !on;
    if (on && focusTab) tab.focus();
  }
  const url = new URL(location.href);
  if (view === 'recognise') url.searchParams.delete('view');
  else url.searchParams.set('view', view);
  history.replaceState(null, '', url);
}

function initTabs(): void {
  VIEWS.forEach((v, i) => {
    const tab = byId(`tab-${v}`);
    tab.addEventListener('click', () => showView(v));
    tab.addEventListener('keydown', (ev) => {
      const next =
        ev.key === 'ArrowRight' ? VIEWS[(i + 1) % VIEWS.length]
        : ev.key === 'ArrowLeft' ? VIEWS[(i + VIEWS.length - 1) % VIEWS.length]
        : ev.key === 'Home' ? VIEWS[0]
        : ev.key === 'End' ? VIEWS[VIEWS.length - 1]
        : undefined;
      if (next) {
        ev.preventDefault();
        showView(next, true);
      }
    });
  });
}

function initApiKey(): void {
  const input = byId<HTMLInputElement>('api-key');
  input.value = apiKey();
  input.addEventListener('input', () => setApiKey(input.value.trim()));
  // A changed key: the list of indexes may differ.
  input.addEventListener('change', () => void refreshIndexList().then(reportListError).then(loadIndex));
}

function reportListError(e: Error | undefined): void {
  const target = byId('view-gallery').hidden ? byId('recognise-error') : byId('gallery-error');
  if (e) showMessage(target, `Cannot list the indexes: ${e.message}`);
}

async function main(): Promise<void> {
  applyContract();
  initTabs();
  initApiKey();
  initIndexSelection();
  initRecognise();
  initGallery();
  initEvaluate();
  const view = new URLSearchParams(location.search).get('view');
  showView(VIEWS.includes(view as View) ? (view as View) : 'recognise');
  if (view !== 'gallery' && view !== 'evaluate') byId('query-file').focus();
  reportListError(await refreshIndexList());
  await loadIndex();
  document.body.dataset.ready = 'true';
}

void main();
