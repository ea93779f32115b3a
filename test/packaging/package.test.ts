// The package as users import it: CommonJS and ES module entries, the bin, the
// tarball's contents, the loader and CLI without the addon, the from-source
// prerequisite check. (The installed tarball itself is tested in a bare Debian
// system by scripts/chroot-install-test.sh, in CI.)
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findSharedDir } from '../../lib/util/shared-dir';

const root = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);

t.test('ESM and CommonJS entries export the same API', async (t) => {
  const pkg = require(path.join(root, 'package.json'));
  const cjs = require(path.join(root, pkg.exports['.'].require.default));
  const esm = await run(process.execPath, ['--input-type=module', '-e',
    `import * as m from ${JSON.stringify(path.join(root, pkg.exports['.'].import.default))}; console.log(JSON.stringify(Object.keys(m).filter(k => k !== 'default').sort()))`]);
  const esmNames = JSON.parse(esm.stdout);
  for (const name of ['createPipeline', 'IndexData', 'RecognitionResult', 'getPipelineConfig', 'ShituError'])
    t.ok(esmNames.includes(name) && typeof cjs[name] === 'function', `${name} from both`);
  t.same(esmNames, Object.keys(cjs).filter((k) => k !== '__esModule').sort());
});

t.test('the shitu bin prints help', async (t) => {
  const pkg = require(path.join(root, 'package.json'));
  const { stdout } = await run(process.execPath, [path.join(root, pkg.bin.shitu), '--help']);
  for (const cmd of ['get-pipeline-config', 'build-index', 'append-index', 'remove-index', 'predict', 'models'])
    t.match(stdout, cmd);
});

t.test('the tarball: publint --strict, a files whitelist without tests, benchmarks, CI or apt scripts', async (t) => {
  const lint = await run(process.execPath, [path.join(root, 'node_modules', 'publint', 'src', 'cli.js'), '--strict'], { cwd: root });
  t.match(lint.stdout, /All good/);
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
  const files: string[] = JSON.parse(stdout)[0].files.map((f: { path: string }) => f.path);
  for (const f of ['dist/lib/index.js', 'dist/index.mjs', 'dist/index.d.mts', 'dist/lib/cli/main.js', 'scripts/install.js',
    'scripts/build-from-source.js', 'CMakeLists.txt', 'native/sources.txt', 'models/standin.yaml'])
    t.ok(files.includes(f), `ships ${f}`);
  const unwanted = files.filter((f) => /^(test|bench|dist\/bench|\.ci|node_modules|build)\//.test(f) ||
    (f.startsWith('scripts/') && !['scripts/install.js', 'scripts/build-from-source.js'].includes(f)));
  t.same(unwanted, [], 'no tests, benchmarks, CI, build outputs or set-up scripts');
  const pkg = require(path.join(root, 'package.json'));
  t.same([pkg.os, pkg.cpu, pkg.libc], [['linux'], ['x64', 'arm64'], ['glibc']]);
  t.equal(pkg.scripts.prepack, 'npm run build:ts');
  for (const d of ['cmake-js', 'node-addon-api', 'com.github.asus4.onnxruntime']) {
    t.notOk(pkg.dependencies[d], `${d} is not a runtime dependency`);
    t.ok(pkg.peerDependenciesMeta[d]?.optional, `${d}: optional peer (needed only to build from source)`);
  }
});

// A copy of the package without any addon: dist/, models, package.json and the
// install scripts, with the repository's node_modules for commander & co.
function packageWithoutAddon(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-noaddon-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const p of ['package.json', 'dist/lib', 'dist/index.mjs', 'models', 'scripts/install.js', 'scripts/build-from-source.js'])
    fs.cpSync(path.join(root, p), path.join(dir, p), { recursive: true });
  return dir;
}
// The stand-in card names ${SHITU_SHARED_DIR:-../../shared}: give the children the shared
// directory this test found, wherever the clone is.
const sharedDir = findSharedDir();
const sharedEnv: NodeJS.ProcessEnv = sharedDir ? { SHITU_SHARED_DIR: sharedDir } : {};
const runCode = (file: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [file, ...args], { env: { ...process.env, ...sharedEnv, SHITU_ADDON_PATH: '', ...env }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }));
  });

t.test('without the addon: --help and --version work, usage errors exit 2, runtime errors 1 with ERR_NATIVE_MISSING', async (t) => {
  const dir = packageWithoutAddon(t);
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  const cli = path.join(dir, 'dist', 'lib', 'cli', 'main.js');
  const help = await runCode(cli, ['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /predict/);
  const version = await runCode(cli, ['--version']);
  t.same([version.code, version.stdout.trim()], [0, require(path.join(root, 'package.json')).version]);
  t.equal((await runCode(cli, ['predict', '--help'])).code, 0);
  const usage = await runCode(cli, ['predict', '--no-such-option', 'a.jpg']);
  t.equal(usage.code, 2, 'unknown option: exit 2');
  t.match(usage.stderr, /unknown option/);
  t.equal((await runCode(cli, ['no-such-command'])).code, 2, 'unknown command: exit 2');
  const predict = await runCode(cli, ['predict', '--config', path.join(root, 'models', 'standin.yaml'), 'a.jpg']);
  t.equal(predict.code, 1, 'runtime error: exit 1');
  t.match(predict.stderr, /^error ERR_NATIVE_MISSING: Could not load the shitu-node native addon/);
  t.match(predict.stderr, /build[/]Release[/]shitu\.node: not found/, 'lists the candidates tried');
  t.match(predict.stderr, /prebuilds[/]linux-x64[/]shitu\.node: not found/);
  t.match(predict.stderr, /npm install shitu-node --build-from-source/, 'and what to do');
  // the library: a ShituError with the code, not a crash at import
  const probe = path.join(dir, 'probe.js');
  fs.writeFileSync(probe, `const s = require('./dist/lib/index.js');
    s.createPipeline(${JSON.stringify(path.join(root, 'models', 'standin.yaml'))}).then(() => console.log('loaded?'),
      (e) => console.log(JSON.stringify({ name: e.name, code: e.code, isShitu: e instanceof s.ShituError, tried: e.details.length })));`);
  const r = await runCode(probe, []);
  const e = JSON.parse(r.stdout.trim());
  t.same(e, { name: 'ShituError', code: 'ERR_NATIVE_MISSING', isShitu: true, tried: 3 });
});

t.test('build from source with prerequisites missing: one line naming the apt-get and npm commands', async (t) => {
  const dir = packageWithoutAddon(t);
  const r = await runCode(path.join(dir, 'scripts', 'install.js'), [], { SHITU_BUILD_FROM_SOURCE: '1', PATH: '/nonexistent' });
  t.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /^shitu-node: cannot build from source, missing cmake, a C\+\+ compiler, make, patchelf/);
  t.match(lines[0], /run: sudo apt-get install -y cmake g\+\+ make patchelf/);
  t.match(lines[0], /npm install cmake-js@8\.0\.0 node-addon-api@8\.9\.2 com\.github\.asus4\.onnxruntime@0\.4\.9/);
  t.notMatch(r.stderr, /CMake Error/);
});

t.test('from source in an app where npm hoisted ONNX Runtime: found by Node resolution (cmake-js configure)', async (t) => {
  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-hoisted-'));
  t.teardown(() => fs.rmSync(app, { recursive: true, force: true }));
  const pkgDir = path.join(app, 'node_modules', 'shitu-node');
  for (const p of ['package.json', 'CMakeLists.txt', 'native', 'scripts/install.js', 'scripts/build-from-source.js'])
    fs.cpSync(path.join(root, p), path.join(pkgDir, p), { recursive: true });
  // npm puts the (peer) build dependencies beside the package, not inside it
  for (const dep of ['com.github.asus4.onnxruntime', 'cmake-js', 'node-addon-api'])
    fs.symlinkSync(path.join(root, 'node_modules', dep), path.join(app, 'node_modules', dep));
  const { missingPrerequisites } = require(path.join(pkgDir, 'scripts', 'build-from-source.js'));
  t.same(missingPrerequisites().npm, [], 'the build dependencies are found beside the package');
  const env = { ...process.env };
  delete env.ONNXRUNTIME_DIR;
  const { stdout } = await run(process.execPath, [require.resolve('cmake-js/bin/cmake-js', { paths: [root] }), 'configure', '--out', 'build'],
    { cwd: pkgDir, env, timeout: 240_000, maxBuffer: 1 << 24 });
  const ort = /ONNX Runtime: (.*)/.exec(stdout)?.[1] ?? '';
  t.match(ort, /com\.github\.asus4\.onnxruntime\/Plugins\/Linux\/x64\/libonnxruntime\.so$/, `found: ${ort}`);
  t.notOk(ort.startsWith(pkgDir), 'not inside the package');
});
