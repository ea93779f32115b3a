// One batch of the image fuzz campaign, in its own process: decodes cases
// [from, to) of the mutated seeds through the native decoder (header probe,
// allowlist, limit, OpenCV) and prints one JSON line with the outcome counts.
// Before each case its number is written to the progress file, so that the
// parent knows which case was running if this process dies or hangs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { mutate } = require('./image-mutate');

const [seedDir, fromS, toS, progressFile] = process.argv.slice(2);
const addon = process.env.SHITU_ADDON_PATH || path.join(__dirname, '..', '..', 'build', 'Release', 'shitu.node');
const native = require(addon);
const seeds = fs.readdirSync(seedDir).sort().map((f) => fs.readFileSync(path.join(seedDir, f)));
const limits = JSON.parse(process.env.SHITU_FUZZ_LIMITS);
const KNOWN = new Set(['ERR_IMAGE_DECODE', 'ERR_IMAGE_FORMAT', 'ERR_IMAGE_TOO_LARGE', 'ERR_OUT_OF_MEMORY']);

(async () => {
  const fd = fs.openSync(progressFile, 'w');
  const counts = { decoded: 0, coded: {}, uncoded: [] };
  for (let n = Number(fromS); n < Number(toS); n++) {
    fs.writeSync(fd, `${n}\n`, 0);
    const bytes = mutate(seeds, n);
    try {
      const img = await native.decodeImage(bytes, limits);
      if (img.width * img.height > limits.maxPixels) counts.uncoded.push({ n, code: 'OVER_LIMIT', message: `${img.width}x${img.height}` });
      counts.decoded++;
    } catch (e) {
      if (KNOWN.has(e.code)) counts.coded[e.code] = (counts.coded[e.code] || 0) + 1;
      else counts.uncoded.push({ n, code: e.code, message: String(e.message).slice(0, 200) });
    }
  }
  fs.closeSync(fd);
  counts.maxRssKb = process.resourceUsage().maxRSS;
  process.stdout.write(JSON.stringify(counts) + '\n');
})();
