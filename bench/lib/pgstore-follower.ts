// A second replica for bench/service/pgstore.ts, in its own process: holds an
// in-process copy of one index through the PostgreSQL store and reports, for
// each id the parent announces, when its copy first holds it (wall clock, ms).
import { PgIndexStore } from '../../lib/store/postgres/pg-index-store';

const [url, key] = process.argv.slice(2);
const store = new PgIndexStore(url);

async function main() {
  const index = await store.get(key);
  process.on('message', (m: { watch?: number; stop?: boolean }) => {
    if (m.stop) { store.close().then(() => process.exit(0)); return; }
    const id = m.watch!;
    const poll = () => {
      if (index.labelOf(id) !== undefined) process.send!({ id, seenAt: performance.timeOrigin + performance.now() });
      else setTimeout(poll, 1); // 1 ms granularity without spinning a core
    };
    poll();
  });
  process.send!({ ready: true });
}
main().catch((e) => { console.error(e); process.exit(1); });
