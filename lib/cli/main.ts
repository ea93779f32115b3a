#!/usr/bin/env node
// `shitu`: the pipeline from a shell. Errors print their code; exit status 2 for
// usage errors (unknown command or option, bad argument), 1 for failures at run
// time. `--help` and `--version` need no native addon (it loads on first use).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { getPipelineConfig } from '../pipeline/config';
import { ShituError } from '../errors';
import { IndexData, INDEX_TYPES, METRIC_TYPES } from '../vector-index/index-data';
import { fetchModel } from '../models/fetch';
import { readRemoveIds } from '../vector-index/formats/remove-ids';
import { BATCHING } from '../limits';
import { findSharedDir } from '../util/shared-dir';
import { packageRoot } from '../util/package-root';
import { createPipeline, Pipeline } from '../pipeline/pipeline';

function progressBar(label: string) {
  const tty = process.stderr.isTTY;
  let last = -1;
  return ({ done, total }: { done: number; total: number }) => {
    const pct = Math.floor((done / total) * 100);
    if (pct === last) return;
    last = pct;
    const width = 30, fill = Math.round((done / total) * width);
    const line = `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total}`;
    if (tty) process.stderr.write(`\r${line}${done === total ? '\n' : ''}`);
    else if (done === total || pct % 25 === 0) process.stderr.write(line + '\n');
  };
}

const common = (c: Command) =>
  c
    .option('--config <file>', 'pipeline config YAML, or PP-ShiTuV2 for the defaults', 'PP-ShiTuV2')
    .option('--device <device>', 'cpu or gpu:N', 'cpu')
    .option('--threads <n>', 'ONNX Runtime threads per model', (v) => parseInt(v, 10))
    .option('--thread-pool <kind>', 'session (a pool per model) or shared (one process-wide pool, a thread per core)')
    .option('--reduced-decode', 'decode large JPEGs at 1/2, 1/4 or 1/8 scale (see README "Speed")');

async function withPipeline<T>(o: { config: string; device: string; threads?: number; threadPool?: string; reducedDecode?: boolean }, f: (p: Pipeline) => Promise<T>): Promise<T> {
  const p = await createPipeline(o.config, { device: o.device, threads: o.threads, threadPool: o.threadPool as 'session' | 'shared' | undefined, reducedDecode: o.reducedDecode });
  try {
    return await f(p);
  } finally {
    await p.close();
  }
}

function defaultSharedDir(): string {
  return findSharedDir() ?? path.resolve(packageRoot(), '..', 'shared');
}

export function buildCli(): Command {
  const program = new Command('shitu')
    .description('PP-ShiTuV2 general image recognition: main-body detection, feature extraction, vector retrieval')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError()
    .exitOverride(); // inherited by every subcommand: main() picks the exit status

  program
    .command('get-pipeline-config')
    .description('write the default PP-ShiTuV2 pipeline config')
    .argument('[name]', 'pipeline name', 'PP-ShiTuV2')
    .option('--save-path <path>', 'file or directory to write (default: print)')
    .action(async (name: string, o: { savePath?: string }) => {
      const c = getPipelineConfig(name, o.savePath);
      if (!o.savePath) process.stdout.write(JSON.stringify(c, null, 2) + '\n');
      else process.stderr.write(`written: ${o.savePath}\n`);
    });

  common(program.command('build-index'))
    .description('build an index from a gallery directory and its label file')
    .requiredOption('--gallery <dir>', 'gallery root directory')
    .requiredOption('--labels <file>', 'label file: "relative/path.jpg label" per line')
    .requiredOption('--out <dir>', 'index directory to write')
    .addOption(new Option('--index-type <type>').choices(INDEX_TYPES as string[]).default('HNSW32'))
    .addOption(new Option('--metric-type <metric>').choices(METRIC_TYPES as string[]).default('IP'))
    .option('--crop', 'crop gallery images to their main body first')
    .action(async (o) =>
      withPipeline(o, async (p) => {
        const index = await p.buildIndex({
          galleryImgs: o.gallery, galleryLabel: o.labels, indexType: o.indexType, metricType: o.metricType,
          cropByDetection: !!o.crop, onProgress: progressBar('embedding'),
        });
        await index.save(o.out);
        process.stderr.write(`index: ${index.count} vectors, ${index.labels.length} labels, ${index.indexType}/${index.metricType} -> ${o.out}\n`);
      }));

  common(program.command('append-index'))
    .description('add gallery images to a saved index (only the new images are embedded)')
    .requiredOption('--index <dir>', 'index directory (updated in place)')
    .requiredOption('--gallery <dir>', 'gallery root directory')
    .requiredOption('--labels <file>', 'label file')
    .action(async (o) =>
      withPipeline(o, async (p) => {
        const index = await IndexData.load(o.index);
        await p.appendIndex({ galleryImgs: o.gallery, galleryLabel: o.labels, index, onProgress: progressBar('embedding') });
        await index.save(o.index);
        process.stderr.write(`index: ${index.count} vectors -> ${o.index}\n`);
      }));

  program
    .command('remove-index')
    .description('remove ids from a saved index')
    .requiredOption('--index <dir>', 'index directory (updated in place)')
    .option('--ids <ids>', 'comma-separated ids')
    .option('--ids-file <file>', 'file with one id per line')
    .action(async (o) => {
      const index = await IndexData.load(o.index);
      const ids: number[] = [];
      if (o.ids) for (const s of String(o.ids).split(',')) {
        const id = Number(s.trim());
        if (!Number.isInteger(id)) throw new ShituError('ERR_INDEX_ID', `not an id: ${JSON.stringify(s)}`);
        ids.push(id);
      }
      if (o.idsFile) ids.push(...(await readRemoveIds(o.idsFile)));
      if (!ids.length) throw new ShituError('ERR_INDEX_ID', 'give --ids or --ids-file');
      const n = await index.remove(ids);
      await index.save(o.index);
      process.stderr.write(`removed ${n}; index: ${index.count} vectors -> ${o.index}\n`);
    });

  common(program.command('predict'))
    .description('recognise images (files, directories, URLs); reference-shaped JSON on stdout')
    .argument('<inputs...>', 'images, directories or http(s) URLs')
    .option('--index <dir>', 'index directory (default: the config\'s index)')
    .option('--det-threshold <t>', 'detection threshold', parseFloat)
    .option('--rec-threshold <t>', 'recognition threshold', parseFloat)
    .option('--topk <k>', 'results per box', (v) => parseInt(v, 10))
    .option('--output <dir>', 'write {stem}.json files here instead of stdout')
    .option('--save-img <dir>', 'write annotated pictures ({stem}_res.ext) here')
    .option('--timings', 'print per-stage milliseconds to stderr')
    .action(async (inputs: string[], o) =>
      withPipeline(o, async (p) => {
        for await (const r of p.predict(inputs, {
          index: o.index, detThreshold: o.detThreshold, recThreshold: o.recThreshold, recTopk: o.topk,
          keepImage: !!o.saveImg,
        })) {
          if (o.output) await r.saveToJson(o.output);
          else r.print();
          if (o.saveImg) await r.saveToImg(o.saveImg);
          if (o.timings) process.stderr.write(`${r.inputPath}: ${JSON.stringify(r.timings)}\n`);
        }
      }));

  program
    .command('demo')
    .description('the quick start on the shared stand-in models: build an index, recognise, write JSON and pictures')
    .option('--shared <dir>', 'the shared data directory (default: $SHITU_SHARED_DIR, ../shared beside the package, /work/shared)', defaultSharedDir())
    .option('--out <dir>', 'output directory', 'output')
    .action(async (o) => {
      const { runDemo } = await import('./demo');
      await runDemo(o.shared, o.out);
    });

  // serve: HTTP service compatible with the PP-ShiTuV2 serving API (lib/server/app.ts).
  common(program.command('serve'))
    .description('HTTP service compatible with the PP-ShiTuV2 serving API (/shitu-index-build, -add, -remove, /shitu-infer)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', (v) => parseInt(v, 10), 8080)
    .option('--index-dir <dir>', 'directory holding the indexes (one per indexKey)', 'indexes')
    .option('--index-store <url>', 'postgresql://user@host:port/db: indexes in PostgreSQL, shared by replicas (instead of --index-dir)')
    .option('--default-index-key <key>', 'index used when a request has no indexKey')
    .option('--max-concurrent <n>', 'recognitions running at once', (v) => parseInt(v, 10), 2)
    .option('--max-queue <n>', 'requests waiting; beyond it 503 + Retry-After', (v) => parseInt(v, 10), 32)
    .option('--batch-max <n>', `dynamic batching: crops per feature-model run across concurrent requests (default off; when on, ${BATCHING.maxBatch.default})`, (v) => parseInt(v, 10))
    .option('--batch-wait-ms <ms>', `dynamic batching: longest wait for other requests' crops (default ${BATCHING.maxWaitMs.default}; turns batching on)`, parseFloat)
    .option('--body-limit <bytes>', 'largest request body', (v) => parseInt(v, 10), 64 * 1024 * 1024)
    .option('--api-keys <file>', 'API keys, one "<key> <read|write|read,write> [name] [indexes=N] [vectors=N]" per line (also: SHITU_API_KEYS)')
    .option('--limit-input-pixels <n>', 'refuse images declaring more pixels (413)', (v) => parseInt(v, 10))
    .option('--image-formats <list>', 'formats decoded, comma-separated (default jpeg,png,webp,tiff,bmp)', (v) => v.split(','))
    .option('--allow-fetch <cidrs>', 'non-public addresses image URLs may reach, comma-separated CIDRs', (v) => v.split(','))
    .option('--log', 'log requests (JSON lines on stdout)')
    .action(async (o) => {
      const { serve } = await import('./serve');
      await serve(o);
    });

  program
    .command('import-paddlex-serving')
    .description("one-time import of PaddleX serving's stored indexes (its index_storage directory) for shitu serve")
    .requiredOption('--from <dir>', "PaddleX serving's index storage directory (default there: .index)")
    .requiredOption('--index-dir <dir>', 'the --index-dir of shitu serve')
    .option('--overwrite', 'replace indexes already imported')
    .action(async (o) => {
      const { importPaddleXServing } = await import('../store/paddlex-serving-import');
      const r = await importPaddleXServing(o.from, o.indexDir, { overwrite: !!o.overwrite });
      for (const k of r.imported) process.stderr.write(`imported ${k}\n`);
      for (const s of r.skipped) process.stderr.write(`skipped ${s.key}: ${s.reason}\n`);
      for (const f of r.failed) process.stderr.write(`failed ${f.key}: ${f.code} ${f.message}\n`);
      if (r.failed.length) throw new ShituError(r.failed[0].code as never, `${r.failed.length} of ${r.failed.length + r.imported.length} indexes could not be imported`);
    });

  // migrate-index: file indexes into the PostgreSQL store (lib/store/postgres/migrate.ts).
  program
    .command('migrate-index')
    .description('copy file indexes (an index directory, PaddleX/PaddleClas layouts, or a serve --index-dir) into a PostgreSQL index store')
    .argument('<source...>', 'index directories, or directories of indexes named by indexKey')
    .requiredOption('--to <url>', 'postgresql://user@host:port/db')
    .addOption(new Option('--search <mode>', 'where the copied indexes search').choices(['faiss', 'pgvector']).default('faiss'))
    .action(async (sources: string[], o: { to: string; search: 'faiss' | 'pgvector' }) => {
      const { migrateIndexes } = await import('../store/postgres/migrate');
      await migrateIndexes(sources, o.to, {
        search: o.search,
        onIndex: (m) => process.stdout.write(`${m.source} -> ${m.key} (${m.entries} entries${m.copied ? '' : ', already in the database: skipped'})\n`),
      });
    });

  const models = program.command('models').description('model management');
  models
    .command('fetch')
    .description('download an official PP-ShiTuV2 model and convert it to ONNX (needs network and paddle2onnx)')
    .argument('<name>', 'PP-ShiTuV2_det | PP-ShiTuV2_rec | PP-ShiTuV2_rec_CLIP_vit_base | PP-ShiTuV2_rec_CLIP_vit_large')
    .action(async (name: string) => {
      const dir = await fetchModel(name, (msg) => process.stderr.write(msg + '\n'));
      process.stderr.write(`installed: ${dir}\n`);
    });
  return program;
}

function packageVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version;
}

export const EXIT_RUNTIME_ERROR = 1;
export const EXIT_USAGE = 2;

export async function main(argv = process.argv): Promise<number> {
  try {
    await buildCli().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed the message (and help) already; help/version end with exitCode 0
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const code = (e as { code?: string }).code ?? 'ERR_INTERNAL';
    process.stderr.write(`error ${code}: ${(e as Error).message}\n`);
    return EXIT_RUNTIME_ERROR;
  }
}

if (require.main === module) {
  main().then((code) => { process.exitCode = code; });
}
