// A throwaway PostgreSQL 15 cluster for one test file: PostgreSQL and pgvector
// installed when missing (scripts/install-postgres.sh, idempotent), `initdb` in
// a temporary directory as the `postgres` user (PostgreSQL refuses to run as
// root), a free port on 127.0.0.1; stop() / start() for restarts, destroy()
// stops it and removes the directory.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../../lib/util/package-root';

const BIN = '/usr/lib/postgresql/15/bin';

export interface TestCluster {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Fast shutdown: connections are cut, committed data stays. */
  stop(): void;
  start(): void;
  destroy(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function asPostgres(cmd: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  execFileSync(root ? 'runuser' : cmd, root ? ['-u', 'postgres', '--', cmd, ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 });
}

export async function startCluster(): Promise<TestCluster> {
  execFileSync('bash', [path.join(packageRoot(), 'scripts/install-postgres.sh')], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 900000 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-pg-'));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dir]);
  asPostgres(`${BIN}/initdb`, ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const start = () => asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-l', path.join(dir, 'server.log'), '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, '-w', '-t', '60', 'start']);
  const stop = () => asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  start();
  let up = true;
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    stop() { stop(); up = false; },
    start() { start(); up = true; },
    destroy() {
      try { if (up) stop(); } catch { /* already down */ }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
