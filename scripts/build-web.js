#!/usr/bin/env node
// Builds the web app (web/) into dist/web/: type-checks it (esbuild does not),
// bundles web/main.ts into one minified script, copies the page and its style
// sheet. The files are what the package ships and `shitu serve` serves at `/`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'web');
const out = path.join(root, 'dist', 'web');

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(src, 'tsconfig.json')], { stdio: 'inherit' });

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
require('esbuild').buildSync({
  entryPoints: [path.join(src, 'main.ts')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2022'],
  legalComments: 'none',
  logLevel: 'warning',
});
require('esbuild').buildSync({
  entryPoints: [path.join(src, 'style.css')],
  outfile: path.join(out, 'app.css'),
  bundle: true,
  minify: true,
  logLevel: 'warning',
});
fs.copyFileSync(path.join(src, 'index.html'), path.join(out, 'index.html'));

const zlib = require('node:zlib');
let raw = 0;
let gz = 0;
for (const f of fs.readdirSync(out)) {
  const b = fs.readFileSync(path.join(out, f));
  raw += b.length;
  gz += zlib.gzipSync(b, { level: 9 }).length;
}
process.stdout.write(`[web] dist/web: ${(raw / 1024).toFixed(1)} KiB (${(gz / 1024).toFixed(1)} KiB gzipped)\n`);
