// What `engines` claims is what is tested and what every dependency supports:
// each Node.js line CI runs (.ci/node-lines, plus the machine's own node) is
// admitted by package.json "engines", every major line "engines" admits is one
// CI runs, and no installed production dependency declares an `engines.node`
// narrower than ours (the reason @fastify/static and light-my-request are pinned
// to lines whose content-disposition and cookie still support Node 20).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import semver from 'semver';
import { execFileSync } from 'node:child_process';

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const claimed: string = pkg.engines.node;
const ciLines = fs.readFileSync(path.join(root, '.ci', 'node-lines'), 'utf8')
  .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
// The machine's own node runs the README's `npm test` (this file may itself run
// under one of the other lines, with that line first on PATH).
const machineNode = fs.existsSync('/usr/bin/node')
  ? execFileSync('/usr/bin/node', ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()
  : process.versions.node;

t.test('every Node.js release CI tests is admitted by engines', async (t) => {
  t.ok(semver.validRange(claimed), `engines.node "${claimed}" is a range`);
  for (const v of [...ciLines, machineNode]) t.ok(semver.satisfies(v, claimed), `${v} satisfies "${claimed}"`);
});

t.test('every major line engines admits is one CI tests', async (t) => {
  const tested = new Set([...ciLines, machineNode].map((v) => semver.major(v)));
  // The majors the range admits from its lowest bound up to the newest line tested.
  const low = semver.major(semver.minVersion(claimed)!);
  const high = Math.max(...tested);
  for (let major = low; major <= high; major++) {
    const admits = semver.intersects(claimed, `^${major}.0.0`);
    if (major % 2 === 1) continue; // odd lines are never LTS; users run even ones
    t.equal(admits, tested.has(major), `Node ${major}: ${admits ? 'admitted' : 'not admitted'} and ${tested.has(major) ? '' : 'not '}tested`);
  }
});

t.test('no production dependency declares an engines.node narrower than ours', async (t) => {
  const narrower: string[] = [];
  let checked = 0;
  for (const [where, entry] of Object.entries<{ dev?: boolean; optional?: boolean; engines?: { node?: string } | string[]; version?: string }>(lock.packages)) {
    if (!where || entry.dev) continue;
    const node = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
    if (!node) continue;
    checked++;
    if (!semver.subset(claimed, node)) narrower.push(`${where.replace(/^.*node_modules\//, '')}@${entry.version} wants node "${node}"`);
  }
  t.ok(checked > 5, `${checked} production dependencies declare engines.node`);
  t.same(narrower, [], 'every one admits the whole claimed range');
});
