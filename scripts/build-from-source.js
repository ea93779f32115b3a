// Builds the addon from source with cmake-js (npm install --build-from-source,
// or no fitting prebuild). Every prerequisite is checked first, so a missing one
// is reported as one line naming the exact command that installs it, never as a
// raw CMake or compiler error. Debian/Ubuntu package names (the supported
// platform); the list of checks is the list of what CMakeLists.txt needs in its
// default (shared system libraries) mode.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
// Debian's multiarch library directory of this CPU.
const LIB = `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function onPath(cmd) {
  return (process.env.PATH || '').split(':').some((d) => {
    try { fs.accessSync(path.join(d, cmd), fs.constants.X_OK); return true; } catch { return false; }
  });
}
const anyFile = (...files) => files.some((f) => fs.existsSync(f));
const include = (p) => anyFile(`/usr/include/${p}`, `/usr/local/include/${p}`);

// [what, present?, Debian package]
const SYSTEM = [
  ['cmake', () => onPath('cmake'), 'cmake'],
  ['a C++ compiler', () => onPath('c++') || onPath('g++'), 'g++'],
  ['make', () => onPath('make'), 'make'],
  ['patchelf', () => onPath('patchelf'), 'patchelf'],
  ['OpenCV core', () => include('opencv4/opencv2/core.hpp'), 'libopencv-core-dev'],
  ['OpenCV imgproc', () => include('opencv4/opencv2/imgproc.hpp'), 'libopencv-imgproc-dev'],
  ['OpenCV imgcodecs', () => include('opencv4/opencv2/imgcodecs.hpp'), 'libopencv-imgcodecs-dev'],
  ['libjpeg-turbo', () => include('jpeglib.h'), 'libjpeg-dev'],
  ['FAISS', () => include('faiss/Index.h') && anyFile(`${LIB}/libfaiss.a`, `${LIB}/libfaiss.so`), 'libfaiss-dev'],
  ['BLAS/LAPACK', () => anyFile(`${LIB}/liblapack.so`, `${LIB}/liblapack.so.3`) && anyFile(`${LIB}/libblas.so`, `${LIB}/libblas.so.3`), 'libopenblas-dev'],
  ['FreeType', () => include('freetype2/ft2build.h'), 'libfreetype-dev'],
];

// npm packages needed only to build (optional peer dependencies of this package)
function resolvable(name) {
  try { require.resolve(`${name}/package.json`, { paths: [root] }); return true; } catch { return false; }
}
const spec = (name) => `${name}@${(pkg.peerDependencies || {})[name] || (pkg.devDependencies || {})[name]}`;

function missingPrerequisites() {
  const apt = SYSTEM.filter(([, ok]) => !ok()).map(([what, , p]) => ({ what, p }));
  const npm = ['cmake-js', 'node-addon-api'].filter((n) => !resolvable(n));
  const ortDir = process.env.ONNXRUNTIME_DIR;
  let ortProblem = null;
  if (ortDir) {
    if (!fs.existsSync(path.join(ortDir, 'include', 'onnxruntime_cxx_api.h'))) ortProblem = `ONNXRUNTIME_DIR=${ortDir} has no include/onnxruntime_cxx_api.h`;
  } else if (process.arch === 'arm64') {
    // The asus4 package (headers and the x64 library) carries no Linux arm64 library.
    ortProblem = 'ONNXRUNTIME_DIR (on linux-arm64, an ONNX Runtime release for aarch64: include/ + lib/)';
  } else if (!resolvable('com.github.asus4.onnxruntime')) {
    npm.push('com.github.asus4.onnxruntime');
  }
  return { apt, npm, ortProblem };
}

/** One line: what is missing and the command that installs it. */
function describe({ apt, npm, ortProblem }) {
  const what = [...apt.map((a) => a.what), ...npm, ...(ortProblem ? [ortProblem] : [])];
  const cmds = [];
  if (apt.length) cmds.push(`sudo apt-get install -y ${[...new Set(apt.map((a) => a.p))].join(' ')}`);
  if (npm.length) cmds.push(`npm install ${npm.map(spec).join(' ')}` +
    (npm.includes('com.github.asus4.onnxruntime') ? ' (or set ONNXRUNTIME_DIR to an ONNX Runtime release)' : ''));
  return `shitu-node: cannot build from source, missing ${what.join(', ')}; run: ${cmds.join(' && ')}`;
}

function main() {
  const missing = missingPrerequisites();
  if (missing.apt.length || missing.npm.length || missing.ortProblem) {
    process.stderr.write(describe(missing) + '\n');
    process.exit(1);
  }
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const log = path.join(root, 'build-from-source.log');
  process.stderr.write(`[shitu-node] compiling the native addon (a few minutes; log: ${log})\n`);
  const out = fs.openSync(log, 'w');
  const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  if (r.status !== 0) {
    const tail = fs.readFileSync(log, 'utf8').split('\n').slice(-25).join('\n');
    process.stderr.write(`${tail}\nshitu-node: the native build failed (full log: ${log})\n`);
    process.exit(1);
  }
  process.stderr.write('[shitu-node] native addon built: build/Release/shitu.node\n');
}

module.exports = { main, missingPrerequisites, describe };
