// A separate process reserving index slots in a shared directory
// (test/server/quota.test.ts): `<indexDir> <owner> <max> <count> [keep]`
// reserves `count` fresh keys at once, prints how many were granted, and holds
// them (a build in progress) until its stdin closes; then it releases them, or
// with `keep` exits without committing or releasing (a build that died).
import * as crypto from 'node:crypto';
import { FileOwnership } from '../../lib/store/file/file-ownership';

async function main(): Promise<void> {
  const [dir, owner, max, count, keep] = process.argv.slice(2);
  const o = new FileOwnership(dir);
  const rs = await Promise.all(Array.from({ length: Number(count) }, () => o.reserve(owner, crypto.randomUUID(), Number(max))));
  const granted = rs.filter((r) => r.ok).length;
  process.stdout.write(JSON.stringify({ granted, pid: process.pid }) + '\n');
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
  if (!keep) for (const r of rs) if (r.ok) await r.release();
  process.exit(0);
}
void main();
