// API keys for the service: who may call which route, and how much each key
// may store. Keys come from a file (`--api-keys FILE`) or the environment
// (SHITU_API_KEYS, same format, lines or `;`-separated), one key per line:
//
//   <key> <scopes> [name] [indexes=N] [vectors=N]
//
// scopes: read (infer), write (build, add, remove) or read,write. A request
// carries the key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
// Keys are kept only as SHA-256 digests and a presented key is compared with
// every one of them in constant time (crypto.timingSafeEqual, no early exit),
// so the answer time does not tell how much of a key was right.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';

export const SCOPES = ['read', 'write'] as const;
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

/** Refused requests: 401 (no or unknown key) or 403 (the key lacks the scope, or a quota is used up). */
export class AuthError extends Error {
  readonly status: 401 | 403;
  constructor(status: 401 | 403, message: string) {
    super(message);
    this.name = 'AuthError';
    this.status = status;
  }
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
    if (!scopes) fail('scopes are missing (read, write or read,write)');
    const list = scopes.split(',');
    for (const s of list) if (!(SCOPES as readonly string[]).includes(s)) fail(`unknown scope ${JSON.stringify(s)} (read, write)`);
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

  /** The key's principal with the scope, or AuthError (401 without a valid key, 403 without the scope). */
  authorize(headers: Record<string, string | string[] | undefined>, scope: Scope): Principal {
    const key = Authenticator.presented(headers);
    if (!key) throw new AuthError(401, 'an API key is required (Authorization: Bearer <key> or X-API-Key: <key>)');
    const d = digest(key);
    let found: Principal | undefined;
    for (const e of this.entries) if (crypto.timingSafeEqual(e.digest, d) && !found) found = e.principal;
    if (!found) throw new AuthError(401, 'the API key is not valid');
    if (!found.scopes.includes(scope)) throw new AuthError(403, `the API key lacks the "${scope}" scope this operation needs`);
    return found;
  }
}

/**
 * Who owns which index, for the per-key index quota. The store (files, or
 * another backend) provides this; `checkIndexQuota` is all the quota logic.
 */
export interface IndexOwnership {
  /** Indexes currently owned by `owner`. */
  countIndexes(owner: string): Promise<number>;
  /** Records that `owner` built `indexKey`. */
  recordOwner(indexKey: string, owner: string): Promise<void>;
}

/** 403 when the principal may not build another index. */
export async function checkIndexQuota(p: Principal | undefined, ownership: IndexOwnership): Promise<void> {
  if (!p || p.maxIndexes === undefined) return;
  const n = await ownership.countIndexes(p.name);
  if (n >= p.maxIndexes) throw new AuthError(403, `quota: the key "${p.name}" already owns ${n} index(es), its limit is ${p.maxIndexes}`);
}

/** 403 when an index would hold more vectors than the principal may store. */
export function checkVectorQuota(p: Principal | undefined, vectorsAfter: number): void {
  if (!p || p.maxVectors === undefined) return;
  if (vectorsAfter > p.maxVectors) throw new AuthError(403, `quota: the index would hold ${vectorsAfter} vectors, the key "${p.name}" may store at most ${p.maxVectors} per index`);
}
