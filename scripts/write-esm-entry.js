// Writes dist/index.mjs: an ES module entry re-exporting the CommonJS build, so
// `import { createPipeline } from 'shitu-node'` and `require('shitu-node')` share
// one implementation (and one loaded addon); and dist/index.d.mts, its types.
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist');
const indexJs = path.join(dist, 'lib', 'index.js');
if (!fs.existsSync(indexJs)) process.exit(0);
const mod = require(indexJs);
const names = Object.keys(mod).filter((n) => n !== 'default' && n !== '__esModule');
const body = [
  "import cjs from './lib/index.js';",
  ...names.map((n) => `export const ${n} = cjs.${n};`),
  'export default cjs;',
  '',
].join('\n');
fs.writeFileSync(path.join(dist, 'index.mjs'), body);
// Its types: the CommonJS declarations, seen from an ES module (exports.import.types).
fs.writeFileSync(path.join(dist, 'index.d.mts'), [
  "export * from './lib/index.js';",
  "import * as cjs from './lib/index.js';",
  'export default cjs;',
  '',
].join('\n'));
