#!/usr/bin/env node
// npm's install script. Uses the prebuilt binary shipped in the package
// (prebuilds/<platform>-<arch>/) when it fits this machine and loads; compiles
// only when asked (`npm install --build-from-source`, SHITU_BUILD_FROM_SOURCE=1)
// or when no prebuild fits (another platform, an older glibc, a git checkout).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const platform = `${process.platform}-${process.arch}`;
const prebuildDir = path.join(root, 'prebuilds', platform);

function wantsSource() {
  // npm turns --build-from-source into npm_config_build_from_source ("true", or a package list)
  const flag = process.env.npm_config_build_from_source || '';
  return process.env.SHITU_BUILD_FROM_SOURCE === '1' || flag === 'true' || flag.split(',').includes('shitu-node');
}

// detect-libc, as sharp does: it reads the loader's files before falling back to
// process.report (which is slow and can hang on some hosts' network interfaces).
function glibcVersion() {
  const libc = require('detect-libc');
  return libc.familySync() === libc.GLIBC ? libc.versionSync() || undefined : undefined; // undefined on musl and non-Linux
}

const newerOrEqual = (have, need) => {
  const [a, b] = [have, need].map((v) => v.split('.').map(Number));
  return a[0] !== b[0] ? a[0] > b[0] : (a[1] || 0) >= (b[1] || 0);
};

// Why the prebuild cannot be used, or null when it can.
function prebuildProblem() {
  const manifestFile = path.join(prebuildDir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) return `no prebuilt binary for ${platform}`;
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  const glibc = glibcVersion();
  if (!glibc) return `the prebuilt binary needs glibc ${manifest.glibc}; this system has none (musl?)`;
  if (!newerOrEqual(glibc, manifest.glibc)) return `the prebuilt binary needs glibc >= ${manifest.glibc}, this system has ${glibc}`;
  try {
    require(path.join(prebuildDir, 'shitu.node'));
  } catch (e) {
    return `the prebuilt binary does not load: ${e.message.split('\n')[0]}`;
  }
  return null;
}

if (!wantsSource()) {
  const problem = prebuildProblem();
  if (!problem) {
    process.stdout.write(`[shitu-node] using the prebuilt binary for ${platform} (nothing to compile)\n`);
    process.exit(0);
  }
  process.stderr.write(`[shitu-node] ${problem}: building from source\n`);
}
require('./build-from-source.js').main();
