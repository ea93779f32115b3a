// The published types as a user's strict TypeScript project sees them: the
// README's API example, copied out of README.md, compiled against the packed
// tarball in a fresh app with module/moduleResolution nodenext, strict, and no
// skipLibCheck, as an ES module and (a short require) as CommonJS. The app's
// node_modules holds the tarball and only this package's production
// dependencies (linked from ours) plus typescript and @types/node: a type the
// declarations import from a devDependency (say @types/pg) fails here as it
// would for the user (TS7016).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));

function readmeExample(): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The API'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README has no ```ts block under "## The API"');
  return m[1];
}

t.test('the README example compiles in a strict nodenext consumer against the packed tarball', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-consumer-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--loglevel=error'], { cwd: root });
  const tgz = path.join(dir, stdout.trim().split('\n').pop()!);
  const app = path.join(dir, 'app');
  const nm = path.join(app, 'node_modules');
  fs.mkdirSync(path.join(nm, 'shitu-node'), { recursive: true });
  await run('tar', ['-xzf', tgz, '-C', path.join(nm, 'shitu-node'), '--strip-components=1']);

  // Production dependencies (and theirs) as installed for us, dev-only ones left out.
  const linked: string[] = [];
  for (const [where, entry] of Object.entries<{ dev?: boolean }>(lock.packages)) {
    const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(where);
    if (!m || (entry.dev && !['typescript', '@types/node', 'undici-types'].includes(m[1]))) continue;
    fs.mkdirSync(path.dirname(path.join(nm, m[1])), { recursive: true });
    fs.symlinkSync(path.join(root, 'node_modules', m[1]), path.join(nm, m[1]));
    linked.push(m[1]);
  }
  t.notOk(linked.includes('@types/pg'), 'no devDependency types in the app');

  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['node'] },
    include: ['*.ts', '*.cts'],
  }));
  fs.writeFileSync(path.join(app, 'example.ts'), readmeExample());
  fs.writeFileSync(path.join(app, 'required.cts'), [
    "import shitu = require('shitu-node');",
    'async function main(): Promise<void> {',
    "  const p: shitu.Pipeline = await shitu.createPipeline('PP-ShiTuV2');",
    "  const r: shitu.RecognitionResult = await p.recognize(Buffer.alloc(0), { timeoutMs: 100 });",
    '  const code: shitu.ShituErrorCode | undefined = r.json.res.boxes.length ? undefined : "ERR_INPUT";',
    '  console.log(code, p.stats().inFlight);',
    '}',
    'void main;',
  ].join('\n'));
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = await run(process.execPath, [tsc, '-p', app], { cwd: app }).then(() => ({ code: 0, out: '' }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }));
  t.equal(r.code, 0, r.out || 'tsc: no errors');
});
