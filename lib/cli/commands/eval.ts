// eval and gallery-check: how well a gallery recognises, and what in it hurts.
import { Command } from 'commander';
import * as path from 'node:path';
import { EVAL } from '../../limits';
import { writeEvaluation } from '../../eval/write-report';
import { writeCheck } from '../../eval/write-check';
import { comparisonLines, compareQuantized } from '../../eval/compare-quantized';
import { writeFileAtomic } from '../../pipeline/result';
import type { Pipeline } from '../../pipeline/pipeline';
import { intArg, numberArg, pipelineFlags, progressBar, withPipeline } from '../options';

/** Ctrl-C cancels the run (between images) instead of killing it mid-write. */
function cancelOnSigint(): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  return { signal: ac.signal, done: () => process.off('SIGINT', stop) };
}

function progress() {
  const bars = new Map<string, ReturnType<typeof progressBar>>();
  return (p: { stage: string; done: number; total: number }) => {
    if (!bars.has(p.stage)) bars.set(p.stage, progressBar(p.stage));
    bars.get(p.stage)!(p);
  };
}

const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : 'n/a');

export function registerEvalCommands(program: Command): void {
  const evalCmd = pipelineFlags(program.command('eval'))
    .description('evaluate a gallery on labelled queries (or leave-one-out): Recall@1/5, mAP, the rec_threshold sweep, per label; JSON, Markdown and SVG in --out')
    .option('--index <dir>', 'the gallery as a saved index')
    .option('--gallery <dir>', 'the gallery as pictures (embedded now), with --labels')
    .option('--labels <file>', 'the gallery\'s label file (default: <gallery>/labels.txt)')
    .option('--queries <dir>', 'a directory of query pictures')
    .option('--query-labels <file>', 'their labels, gallery format; "-" or a label not in the gallery: should be rejected (default: <queries>/labels.txt)')
    .option('--leave-one-out', 'no query set: each gallery picture against the rest of the gallery')
    .option('--target-precision <p>', 'report the loosest threshold reaching this precision', numberArg(0, 1), EVAL.targetPrecision.default)
    .option('--topk <k>', 'entries searched per box (mAP@k)', intArg(EVAL.topk.min, EVAL.topk.max), EVAL.topk.default)
    .option('--det-threshold <t>', 'detection threshold', numberArg(0, 1))
    .option('--rec-threshold <t>', 'the threshold in use, reported beside the suggested one (default: the config\'s)', numberArg())
    .option('--compare-quantized', 'run it again with the feature model\'s INT8 copy (shitu models quantize): Recall@1 and mAP side by side, in compare-quantized.json too')
    .requiredOption('--out <dir>', 'directory for report.json, report.md, threshold.svg, scores.svg');
  evalCmd.action(async (o) => {
    if (!!o.index === !!o.gallery) evalCmd.error('error: give exactly one of --index and --gallery', { exitCode: 2 });
    if (!!o.leaveOneOut === !!o.queries) evalCmd.error('error: give either --queries or --leave-one-out', { exitCode: 2 });
    if (o.targetPrecision === 0) evalCmd.error('error: --target-precision must be above 0', { exitCode: 2 });
    // A saved index holds one model's vectors: INT8 queries against it would measure the mix, not the INT8 model.
    if (o.compareQuantized && !o.gallery) evalCmd.error('error: --compare-quantized needs --gallery (each model embeds the gallery itself)', { exitCode: 2 });
    if (o.compareQuantized && o.quantized) evalCmd.error('error: --compare-quantized runs FP32 and INT8 itself: leave out --quantized', { exitCode: 2 });
    const cancel = cancelOnSigint();
    try {
      const run = (p: Pipeline) => p.evaluate({
        index: o.index,
        gallery: o.gallery ? { dir: o.gallery, labels: o.labels ?? path.join(o.gallery, 'labels.txt') } : undefined,
        queries: o.queries, queryLabels: o.queryLabels, leaveOneOut: !!o.leaveOneOut,
        targetPrecision: o.targetPrecision, topk: o.topk, detThreshold: o.detThreshold, recThreshold: o.recThreshold,
        onProgress: progress(), signal: cancel.signal,
      });
      const r = await withPipeline(o, run);
      const files = await writeEvaluation(r, o.out);
      let compared: string[] = [];
      if (o.compareQuantized) {
        // One pipeline at a time: the FP32 one is closed before the INT8 one loads.
        const c = compareQuantized(r, await withPipeline({ ...o, quantized: true }, run));
        const file = path.join(o.out, 'compare-quantized.json');
        await writeFileAtomic(file, JSON.stringify(c, null, 2) + '\n');
        compared = ['FP32 against the INT8 copy of the feature model (same queries):', ...comparisonLines(c), file];
      }
      const s = r.image.sweep;
      process.stdout.write([
        `queries ${r.queries.total} (${r.queries.known} known, ${r.queries.unknown} unknown), no main body ${r.queries.noMainBody}`,
        `per image: Recall@1 ${pct(r.image.recall1)}, Recall@5 ${pct(r.image.recall5)}, mAP@${r.topk} ${pct(r.image.mAP)}`,
        `per box:   Recall@1 ${pct(r.box.recall1)}, Recall@5 ${pct(r.box.recall5)}, mAP@${r.topk} ${pct(r.box.mAP)}`,
        `rec_threshold: current ${r.currentThreshold}, suggested ${s.suggested?.toFixed(4) ?? 'none'} (best F1 ${pct(s.bestF1?.f1 ?? NaN)}), ` +
          `precision >= ${r.targetPrecision} from ${s.targetPrecision.row?.threshold.toFixed(4) ?? 'never'}`,
        `${r.run.seconds.toFixed(2)} s, ${r.run.queriesPerSecond.toFixed(1)} queries/s`,
        ...files,
        ...compared,
      ].join('\n') + '\n');
    } finally {
      cancel.done();
    }
  });

  const checkCmd = pipelineFlags(program.command('gallery-check'))
    .description('find what hurts a gallery: conflicting labels and likely mislabels, outliers, duplicates, pictures without a main body; JSON, Markdown and pairs.jpg in --out')
    .option('--index <dir>', 'the gallery as a saved index (vectors only: no pictures, no detection)')
    .option('--gallery <dir>', 'the gallery as pictures, with --labels')
    .option('--labels <file>', 'the gallery\'s label file (default: <gallery>/labels.txt)')
    .option('--conflict-similarity <s>', 'nearest other-label neighbours at or above this are conflicts (default: the config\'s rec_threshold)', numberArg(-1, 1))
    .option('--duplicate-similarity <s>', 'pairs at or above this are near duplicates', numberArg(-1, 1))
    .option('--outlier-similarity <s>', 'mean similarity to its own label below this is an outlier (default: the conflict similarity)', numberArg(-1, 1))
    .option('--no-detect', 'skip detection (pictures without a main body are not looked for)')
    .requiredOption('--out <dir>', 'directory for check.json, check.md, pairs.jpg');
  checkCmd.action(async (o) => {
    if (!!o.index === !!o.gallery) checkCmd.error('error: give exactly one of --index and --gallery', { exitCode: 2 });
    const cancel = cancelOnSigint();
    try {
      await withPipeline(o, async (p) => {
        const r = await p.checkGallery(o.index ? { index: o.index } : { gallery: { dir: o.gallery, labels: o.labels ?? path.join(o.gallery, 'labels.txt') } }, {
          conflictSimilarity: o.conflictSimilarity, nearDuplicateSimilarity: o.duplicateSimilarity, outlierSimilarity: o.outlierSimilarity,
          detect: o.detect, onProgress: progress(), signal: cancel.signal,
        });
        const files = await writeCheck(r, o.out);
        process.stdout.write([
          `${r.entries} entries, ${r.labels} labels`,
          `conflicts ${r.conflicts.length} (likely mislabelled ${r.conflicts.filter((c) => c.likelyMislabelled).length}), ` +
            `duplicates ${r.duplicates.length} (exact ${r.duplicates.filter((d) => d.exact).length}), outliers ${r.outliers.length}, ` +
            `no main body ${r.noMainBody === null ? 'not looked for' : r.noMainBody.length}`,
          ...files,
        ].join('\n') + '\n');
      });
    } finally {
      cancel.done();
    }
  });
}
