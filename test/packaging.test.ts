// The package as users import it: CommonJS and ES module entries, the bin.
import t from 'tap';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '..');
const run = promisify(execFile);

t.test('ESM and CommonJS entries export the same API', async (t) => {
  const pkg = require(path.join(root, 'package.json'));
  const cjs = require(path.join(root, pkg.exports['.'].require));
  const esm = await run(process.execPath, ['--input-type=module', '-e',
    `import * as m from ${JSON.stringify(path.join(root, pkg.exports['.'].import))}; console.log(JSON.stringify(Object.keys(m).filter(k => k !== 'default').sort()))`]);
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
