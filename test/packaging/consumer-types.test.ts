// The published types as a user's strict TypeScript project sees them: every
// TypeScript and JavaScript block of README.md and docs/*.md (```ts, ```js,
// ```mjs, ```cjs; a block right after a `<!-- not checked -->` line is left
// out), each written to its own file and all compiled in one tsc run against
// the packed tarball in a fresh app with module/moduleResolution nodenext,
// strict, and no skipLibCheck, as ES modules and (a short require) as
// CommonJS. The app's node_modules holds the tarball and only this package's
// production dependencies (linked from ours) plus typescript and @types/node:
// a type the declarations import from a devDependency (say @types/pg) fails
// here as it would for the user (TS7016).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));

/** The marker line that keeps the next block out of the check (an excerpt, say). */
const NOT_CHECKED = '<!-- not checked -->';

interface DocBlock { file: string; code: string }

/**
 * The checkable blocks of the user-facing Markdown, each named after where it
 * is (README.md-L37.ts), so that tsc's errors point at the page and line. A
 * block is a module of its own (top-level await needs one).
 */
function docBlocks(): DocBlock[] {
  const pages = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort()
    .map((f) => `docs/${f}`)];
  const blocks: DocBlock[] = [];
  for (const page of pages) {
    const lines = fs.readFileSync(path.join(root, page), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(ts|typescript|js|mjs|cjs)\s*$/.exec(lines[i]);
      if (!open) continue;
      const end = lines.indexOf('```', i + 1);
      if (end < 0) throw new Error(`${page}:${i + 1}: code block never closed`);
      let prev = i - 1;
      while (prev >= 0 && lines[prev].trim() === '') prev--;
      const code = lines.slice(i + 1, end).join('\n');
      const fenceLine = i + 1;
      i = end;
      if (prev >= 0 && lines[prev].trim() === NOT_CHECKED) continue;
      const lang = open[1];
      const ext = lang === 'ts' || lang === 'typescript' ? 'ts'
        : lang === 'cjs' || /\brequire\(/.test(code) ? 'cjs' : 'mjs';
      const name = `${page.replace(/\//g, '-')}-L${fenceLine}`;
      blocks.push({ file: `${name}.${ext}`, code: ext === 'cjs' ? code : `${code}\nexport {};\n` });
    }
  }
  return blocks;
}

t.test('the code blocks of README.md and docs/ compile in a strict nodenext consumer against the packed tarball', async (t) => {
  const blocks = docBlocks();
  t.ok(blocks.some((b) => b.file.startsWith('README.md-')), 'the README has a checked example');
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
    compilerOptions: {
      module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['node'],
      allowJs: true, checkJs: true,
    },
    include: ['*.ts', '*.cts', '*.mjs', '*.cjs'],
  }));
  for (const b of blocks) fs.writeFileSync(path.join(app, b.file), b.code);
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
  t.equal(r.code, 0, r.out || `tsc: no errors in ${blocks.length} blocks`);
});
