// The service's API as the page calls it: same origin, JSON envelopes
// ({logId, errorCode, errorMsg, result}), the optional API key as
// "Authorization: Bearer <key>" on every call.

const API_KEY_STORAGE = 'shitu.apiKey';

export function apiKey(): string {
  try {
    return sessionStorage.getItem(API_KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function setApiKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(API_KEY_STORAGE, key);
    else sessionStorage.removeItem(API_KEY_STORAGE);
  } catch {
    // Storage disabled: the key lasts as long as the field's value.
  }
}

/** A failed call: the service's own message and the HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly logId?: string;
  constructor(status: number, message: string, logId?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.logId = logId;
  }
}

export interface Timing {
  name: string;
  desc: string;
  ms: number;
}

export interface ApiReply<T> {
  result: T;
  /** The Server-Timing header's entries. */
  timings: Timing[];
  /** Milliseconds from sending the request to the parsed answer. */
  roundTripMs: number;
}

/** Parses `name;dur=1.2;desc="text", …` (the W3C Server-Timing syntax the service writes). */
export function parseServerTiming(header: string | null): Timing[] {
  if (!header) return [];
  const out: Timing[] = [];
  for (const part of header.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
    const [name, ...params] = part.split(';').map((s) => s.trim());
    if (!name) continue;
    let ms = NaN;
    let desc = name;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim();
      const v = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (k === 'dur') ms = Number(v);
      else if (k === 'desc') desc = v;
    }
    if (Number.isFinite(ms)) out.push({ name, desc, ms });
  }
  return out;
}

function headers(json: boolean): Headers {
  const h = new Headers({ accept: 'application/json' });
  if (json) h.set('content-type', 'application/json');
  const key = apiKey();
  if (key) h.set('authorization', `Bearer ${key}`);
  return h;
}

async function call<T>(method: 'GET' | 'POST', route: string, body?: unknown, signal?: AbortSignal): Promise<ApiReply<T>> {
  const t0 = performance.now();
  let res: Response;
  try {
    res = await fetch(route, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, `the service cannot be reached: ${(e as Error).message}`);
  }
  const text = await res.text();
  let envelope: { errorCode?: number; errorMsg?: string; logId?: string; result?: T } | undefined;
  try {
    envelope = JSON.parse(text);
  } catch {
    envelope = undefined;
  }
  if (!res.ok || !envelope || envelope.errorCode !== 0) {
    const msg = envelope?.errorMsg ?? (text.trim().slice(0, 300) || res.statusText || 'no answer');
    throw new ApiError(res.status, msg, envelope?.logId);
  }
  return { result: envelope.result as T, timings: parseServerTiming(res.headers.get('server-timing')), roundTripMs: performance.now() - t0 };
}

// The service's bodies and answers, defined once in lib/ (type-only: erased from the bundle).
import type { IndexListEntry, IndexView } from '../lib/server/routes/index-read';
import type { EvalAnswer } from '../lib/eval/answer';
import type { AddResult, BuildRequest, BuildResult, EvalRequest, InferRequest, InferResult, RemoveResult } from '../lib/server/schemas';
export type { EvalAnswer };
export type { IndexListEntry, IndexView };

export type IdMap = BuildResult['idMap'];
export type DetectedObject = InferResult['detectedObjects'][number];
export type ImageLabelPair = BuildRequest['imageLabelPairs'][number];

export const api = {
  listIndexes: () => call<{ indexes: IndexListEntry[] }>('GET', '/indexes'),
  readIndex: (indexKey: string) => call<IndexView>('GET', `/indexes/${encodeURIComponent(indexKey)}`),
  build: (imageLabelPairs: ImageLabelPair[], indexType: BuildRequest['indexType'], metricType: BuildRequest['metricType']) =>
    call<BuildResult>('POST', '/shitu-index-build', { imageLabelPairs, indexType, metricType } satisfies BuildRequest),
  add: (indexKey: string, imageLabelPairs: ImageLabelPair[]) => call<AddResult>('POST', '/shitu-index-add', { indexKey, imageLabelPairs }),
  remove: (indexKey: string, ids: number[]) => call<RemoveResult>('POST', '/shitu-index-remove', { indexKey, ids }),
  infer: (body: Omit<InferRequest, 'returnImage'>, signal?: AbortSignal) =>
    call<InferResult>('POST', '/shitu-infer', { ...body, returnImage: false } satisfies InferRequest, signal),
  evaluate: (body: EvalRequest) => call<EvalAnswer>('POST', '/shitu-eval', body),
};

/** A file's content as the service's `image` field (Base64 of the file). */
export function fileToBase64(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => {
      const s = String(r.result);
      resolve(s.slice(s.indexOf(',') + 1));
    };
    r.onerror = () => reject(new ApiError(0, `cannot read the file: ${r.error?.message ?? 'unknown error'}`));
    r.readAsDataURL(file);
  });
}
