// build-index, append-index, remove-index: index files from a shell.
import { Command, Option } from 'commander';
import { ShituError } from '../../errors';
import { DEFAULT_INDEX_SHAPE, IndexData, INDEX_TYPES, METRIC_TYPES } from '../../vector-index/index-data';
import { readRemoveIds } from '../../vector-index/formats/remove-ids';
import type { SkippedImage } from '../../pipeline/options';
import { pipelineFlags, progressBar, withPipeline } from '../options';

const onErrorOption = () => new Option('--on-error <mode>', 'skip: leave unusable gallery images out (one warning line each, exit 0); fail: stop on them').choices(['fail', 'skip']).default('fail');

/** One warning line per gallery image left out (--on-error skip). */
function warnSkipped(skipped: SkippedImage[]): void {
  for (const s of skipped) process.stderr.write(`warning: skipped ${s.path}: ${s.code}: ${s.message.replace(/\s+/g, ' ')}\n`);
}

export function registerIndexCommands(program: Command): void {
  pipelineFlags(program.command('build-index'))
    .description('build an index from a gallery directory and its label file')
    .requiredOption('--gallery <dir>', 'gallery root directory')
    .requiredOption('--labels <file>', 'label file: "relative/path.jpg label" per line')
    .requiredOption('--out <dir>', 'index directory to write')
    .addOption(new Option('--index-type <type>').choices(INDEX_TYPES as string[]).default(DEFAULT_INDEX_SHAPE.indexType))
    .addOption(new Option('--metric-type <metric>').choices(METRIC_TYPES as string[]).default(DEFAULT_INDEX_SHAPE.metricType))
    .option('--crop', 'crop gallery images to their main body first')
    .addOption(onErrorOption())
    .action(async (o) =>
      withPipeline(o, async (p) => {
        const opts = {
          galleryImgs: o.gallery, galleryLabel: o.labels, indexType: o.indexType, metricType: o.metricType,
          cropByDetection: !!o.crop, onProgress: progressBar('embedding'),
        };
        const { index, skipped } = o.onError === 'skip' ? await p.buildIndex({ ...opts, onError: 'skip' }) : { index: await p.buildIndex(opts), skipped: [] };
        warnSkipped(skipped);
        await index.save(o.out);
        process.stderr.write(`index: ${index.count} vectors, ${index.labels.length} labels, ${index.indexType}/${index.metricType} -> ${o.out}\n`);
      }));

  pipelineFlags(program.command('append-index'))
    .description('add gallery images to a saved index (only the new images are embedded)')
    .requiredOption('--index <dir>', 'index directory (updated in place)')
    .requiredOption('--gallery <dir>', 'gallery root directory')
    .requiredOption('--labels <file>', 'label file')
    .addOption(onErrorOption())
    .action(async (o) =>
      withPipeline(o, async (p) => {
        const index = await IndexData.load(o.index);
        const opts = { galleryImgs: o.gallery, galleryLabel: o.labels, index, onProgress: progressBar('embedding') };
        if (o.onError === 'skip') warnSkipped((await p.appendIndex({ ...opts, onError: 'skip' })).skipped);
        else await p.appendIndex(opts);
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
}
