// API keys for the service: who may call which route, and how much each key
// may store. Keys come from a file (`--api-keys FILE`) or the environment
// (SHITU_API_KEYS, same format, lines or `;`-separated), one key per line:
//
//   <key> <scopes> [name] [indexes=N] [vectors=N]
//
// scopes (comma-separated): read (infer), write (build; add and remove on the
// indexes the key's name owns), admin (write, to any index). A request
// carries the key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
// Keys are kept only as SHA-256 digests and a presented key is compared with
// every one of them in constant time (crypto.timingSafeEqual, no early exit),
// so the answer time does not tell how much of a key was right.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { ShituError } from '../errors';
import type { IndexOwnership, OwnerReservation } from '../store/index-store';

export type { IndexOwnership, OwnerReservation } from '../store/index-store';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeySpec {
  key: string;
  scopes: Scope[];
  /** Who owns the indexes this key builds (quotas count per name; default: a digest prefix of the key). */
  name?: string;
  /** Indexes this key's owner may build (default: no limit). */
  maxIndexes?: number;
  /** Vectors an index may hold after a build or add by this key (default: no limit). */
  maxVectors?: number;
}

export interface Principal {
  name: string;
  scopes: readonly Scope[];
  maxIndexes?: number;
  maxVectors?: number;
}

const MIN_KEY_LENGTH = 16;

/** Parses the key file format (see the file's opening comment). */
export function parseApiKeys(text: string, where = 'api keys'): ApiKeySpec[] {
  const out: ApiKeySpec[] = [];
  text.split(/\r?\n|;/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fail = (what: string): never => { throw new RangeError(`${where}, entry ${i + 1}: ${what}`); };
    const [key, scopes, ...rest] = line.split(/\s+/);
    if (key.length < MIN_KEY_LENGTH) fail(`a key must have at least ${MIN_KEY_LENGTH} characters`);
    if (!scopes) fail(`scopes are missing (${SCOPES.join(', ')}, comma-separated)`);
    const list = scopes.split(',');
    for (const s of list) if (!(SCOPES as readonly string[]).includes(s)) fail(`unknown scope ${JSON.stringify(s)} (${SCOPES.join(', ')})`);
    const spec: ApiKeySpec = { key, scopes: [...new Set(list)] as Scope[] };
    for (const r of rest) {
      const m = /^(indexes|vectors)=(\d+)$/.exec(r);
      if (m) {
        const n = Number(m[2]);
        if (!Number.isSafeInteger(n)) fail(`${m[1]} is too large`);
        if (m[1] === 'indexes') spec.maxIndexes = n; else spec.maxVectors = n;
      } else if (spec.name === undefined) spec.name = r;
      else fail(`unexpected ${JSON.stringify(r)}`);
    }
    out.push(spec);
  });
  return out;
}

/** Keys from a file and/or the SHITU_API_KEYS environment variable; none: authentication is off. */
export function loadApiKeys(o: { file?: string; env?: NodeJS.ProcessEnv } = {}): ApiKeySpec[] {
  const keys: ApiKeySpec[] = [];
  if (o.file) keys.push(...parseApiKeys(fs.readFileSync(o.file, 'utf8'), o.file));
  const env = (o.env ?? process.env).SHITU_API_KEYS;
  if (env) keys.push(...parseApiKeys(env, 'SHITU_API_KEYS'));
  return keys;
}

const digest = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest();

export class Authenticator {
  private readonly entries: Array<{ digest: Buffer; principal: Principal }>;

  constructor(keys: readonly ApiKeySpec[]) {
    if (!keys.length) throw new RangeError('Authenticator: no keys');
    const seen = new Set<string>();
    this.entries = keys.map((k) => {
      const d = digest(k.key);
      if (seen.has(d.toString('hex'))) throw new RangeError('the same API key is listed twice');
      seen.add(d.toString('hex'));
      return {
        digest: d,
        principal: { name: k.name ?? `key-${d.toString('hex').slice(0, 12)}`, scopes: k.scopes, maxIndexes: k.maxIndexes, maxVectors: k.maxVectors },
      };
    });
  }

  /** The presented key: `Authorization: Bearer <key>` or `X-API-Key`. */
  static presented(headers: Record<string, string | string[] | undefined>): string | undefined {
    const auth = headers.authorization;
    if (typeof auth === 'string') {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (m) return m[1];
    }
    const x = headers['x-api-key'];
    return typeof x === 'string' && x ? x.trim() : undefined;
  }

  /** The key's principal with the scope, or ERR_UNAUTHORIZED (401: no valid key) or ERR_FORBIDDEN (403: not the scope). */
  authorize(headers: Record<string, string | string[] | undefined>, scope: Scope): Principal {
    const key = Authenticator.presented(headers);
    if (!key) throw new ShituError('ERR_UNAUTHORIZED', 'an API key is required (Authorization: Bearer <key> or X-API-Key: <key>)');
    const d = digest(key);
    let found: Principal | undefined;
    for (const e of this.entries) if (crypto.timingSafeEqual(e.digest, d) && !found) found = e.principal;
    if (!found) throw new ShituError('ERR_UNAUTHORIZED', 'the API key is not valid');
    // admin is write to any index: it opens every write route.
    const has = found.scopes.includes(scope) || (scope === 'write' && found.scopes.includes('admin'));
    if (!has) throw new ShituError('ERR_FORBIDDEN', `the API key lacks the "${scope}" scope this operation needs`);
    return found;
  }
}

/**
 * Reserves the index about to be built under `indexKey` for the principal's
 * name (403 when its `indexes=N` quota is used up, builds in progress
 * included). The caller commits once the store has the index, or releases on
 * failure. Without keys (no principal) there is nothing to reserve.
 */
export async function reserveIndex(p: Principal | undefined, indexKey: string, ownership: IndexOwnership): Promise<OwnerReservation | undefined> {
  if (!p) return undefined;
  const r = await ownership.reserve(p.name, indexKey, p.maxIndexes);
  if (!r.ok) throw new ShituError('ERR_FORBIDDEN', `quota: the key "${p.name}" already owns ${r.held} index(es), its limit is ${p.maxIndexes} (builds in progress count)`);
  return r;
}

/** 403 unless the principal's name owns the index, or it has the admin scope (no keys: open). */
export async function checkWriteAccess(p: Principal | undefined, indexKey: string, ownership: IndexOwnership): Promise<void> {
  if (!p || p.scopes.includes('admin')) return;
  if ((await ownership.ownerOf(indexKey)) === p.name) return;
  throw new ShituError('ERR_FORBIDDEN', `the API key "${p.name}" does not own index ${indexKey}: only the key that built it, or a key with the "admin" scope, may change it`);
}

/** 403 when an index would hold more vectors than the principal may store. */
export function checkVectorQuota(p: Principal | undefined, vectorsAfter: number): void {
  if (!p || p.maxVectors === undefined) return;
  if (vectorsAfter > p.maxVectors) throw new ShituError('ERR_FORBIDDEN', `quota: the index would hold ${vectorsAfter} vectors, the key "${p.name}" may store at most ${p.maxVectors} per index`);
}
