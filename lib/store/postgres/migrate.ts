// `shitu migrate-index`: copies file indexes into the PostgreSQL store. A source
// is one index directory (this package's, PaddleX's or PaddleClas's layout,
// whatever IndexData.load reads) or a service's --index-dir (one such directory
// per indexKey). A directory named by a UUID keeps it as its key, so clients'
// indexKeys keep working; keys already in the database are skipped, so running
// the migration again is safe. Each index is copied in one transaction.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../../errors';
import { IndexData } from '../../vector-index/index-data';
import { INDEX_KEY_RE } from '../index-store';
import { PgIndexStore, SearchMode } from './pg-index-store';

export interface MigratedIndex {
  source: string;
  key: string;
  entries: number;
  /** false: the key was already in the database. */
  copied: boolean;
}

function indexDirsOf(source: string): string[] {
  const d = path.resolve(source);
  if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) throw new ShituError('ERR_INDEX_IO', `migrate: ${d} is not a directory`);
  if (fs.existsSync(path.join(d, 'vector.index'))) return [d];
  const subs = fs.readdirSync(d).filter((n) => fs.existsSync(path.join(d, n, 'vector.index'))).sort().map((n) => path.join(d, n));
  if (!subs.length) throw new ShituError('ERR_INDEX_IO', `migrate: ${d} holds no index (no vector.index in it or in its subdirectories)`);
  return subs;
}

export async function migrateIndexes(sources: string[], url: string, o: { search?: SearchMode; onIndex?: (m: MigratedIndex) => void } = {}): Promise<MigratedIndex[]> {
  const dirs = sources.flatMap(indexDirsOf);
  const store = new PgIndexStore(url, { search: o.search, reconnectWaitMs: 10000 });
  try {
    await store.ready();
    const existing = new Set((await store.list()).map((e) => e.indexKey));
    const out: MigratedIndex[] = [];
    for (const dir of dirs) {
      const base = path.basename(dir);
      const key = INDEX_KEY_RE.test(base) ? base.toLowerCase() : crypto.randomUUID();
      const index = await IndexData.load(dir); // the whole index is checked before anything is written
      const m: MigratedIndex = { source: dir, key, entries: index.count, copied: !existing.has(key) };
      if (m.copied) await store.create(index, key);
      out.push(m);
      o.onIndex?.(m);
    }
    return out;
  } finally {
    await store.close();
  }
}
