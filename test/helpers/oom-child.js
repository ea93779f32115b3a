// Decodes a PNG declaring 20000x20000 with no pixel limit of ours, under an
// address-space limit set by the parent (ulimit -v): the 1.2 GB picture cannot
// be allocated. Prints {vmKb} with --probe (the address space after loading the
// addon), else {code} of the failure.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const native = require(process.env.SHITU_ADDON_PATH || path.join(__dirname, '..', '..', 'build', 'Release', 'shitu.node'));
if (process.argv[2] === '--probe') {
  const vm = /VmPeak:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  process.stdout.write(JSON.stringify({ vmKb: Number(vm[1]) }) + '\n');
} else {
  native.decodeImage(fs.readFileSync(process.argv[2]), { maxPixels: 0 }).then(
    (img) => process.stdout.write(JSON.stringify({ code: 'decoded', width: img.width }) + '\n'),
    (e) => process.stdout.write(JSON.stringify({ code: e.code, message: e.message }) + '\n'));
}
