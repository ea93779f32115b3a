// Index ownership kept beside a directory store: indexDir/.owners/<indexKey>
// holds the name of the API key that built the index (see IndexOwnership in
// server-auth.ts). An index whose directory is gone no longer counts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IndexOwnership } from './auth';

export class FileOwnership implements IndexOwnership {
  private readonly dir: string;
  private readonly indexDir: string;

  constructor(indexDir: string) {
    this.indexDir = path.resolve(indexDir);
    this.dir = path.join(this.indexDir, '.owners');
  }

  async countIndexes(owner: string): Promise<number> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch {
      return 0;
    }
    let n = 0;
    for (const key of names) {
      if (key.startsWith('.')) continue;
      const who = await fs.promises.readFile(path.join(this.dir, key), 'utf8').catch(() => '');
      if (who === owner && fs.existsSync(path.join(this.indexDir, key))) n++;
    }
    return n;
  }

  async recordOwner(indexKey: string, owner: string): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true });
    const tmp = path.join(this.dir, `.${indexKey}.tmp`);
    await fs.promises.writeFile(tmp, owner);
    await fs.promises.rename(tmp, path.join(this.dir, indexKey));
  }
}

/** Ownership kept in this process only (stores without a directory, e.g. PostgreSQL). */
export class MemoryOwnership implements IndexOwnership {
  private readonly owners = new Map<string, string>();

  async countIndexes(owner: string): Promise<number> {
    let n = 0;
    for (const who of this.owners.values()) if (who === owner) n++;
    return n;
  }

  async recordOwner(indexKey: string, owner: string): Promise<void> {
    this.owners.set(indexKey, owner);
  }
}
