// The Markdown summary of an evaluation: the headline figures per image and
// per box, the thresholds, per-label figures and the most confused pairs.
import type { EvaluationReport, LevelReport } from './evaluate';

const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : 'n/a');
const thr = (v: number | null | undefined) => (v === null || v === undefined ? 'none' : v.toFixed(4));
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function level(name: string, l: LevelReport, r: EvaluationReport): string[] {
  const s = l.sweep;
  return [
    `## ${name}`,
    '',
    `| | |`,
    `|---|---|`,
    `| queries (known / unknown) | ${l.count} (${l.known} / ${l.unknown}) |`,
    `| Recall@1 | ${pct(l.recall1)} |`,
    `| Recall@5 | ${pct(l.recall5)} |`,
    `| mAP@${r.topk} | ${pct(l.mAP)} |`,
    `| best-F1 threshold | ${thr(s.bestF1?.threshold)} (F1 ${pct(s.bestF1?.f1 ?? NaN)}, precision ${pct(s.bestF1?.precision ?? NaN)}, recall ${pct(s.bestF1?.recall ?? NaN)}) |`,
    `| suggested rec_threshold | ${thr(s.suggested)} |`,
    `| loosest threshold with precision >= ${r.targetPrecision} | ${thr(s.targetPrecision.row?.threshold)} |`,
    `| at the current threshold ${thr(r.currentThreshold)} | accepted ${pct(l.atCurrent.acceptRate)}, precision ${pct(l.atCurrent.precision)}, recall ${pct(l.atCurrent.recall)}, unknown rejected ${pct(l.atCurrent.unknownRejection)} |`,
    l.atSuggested ? `| at the suggested threshold | accepted ${pct(l.atSuggested.acceptRate)}, precision ${pct(l.atSuggested.precision)}, recall ${pct(l.atSuggested.recall)}, unknown rejected ${pct(l.atSuggested.unknownRejection)} |` : null,
    '',
  ].filter((x): x is string => x !== null);
}

export function evaluationMarkdown(r: EvaluationReport): string {
  const out = [
    `# Gallery evaluation (${r.mode})`,
    '',
    `Gallery: ${r.gallery.entries} entries, ${r.gallery.labels} labels; ${r.queries.total} queries (${r.queries.known} known, ${r.queries.unknown} unknown); ` +
      `no main body found in ${r.queries.noMainBody} (${pct(r.queries.noMainBodyShare)}). Metric ${r.metricType}, det_threshold ${r.detThreshold}. ` +
      `${r.run.seconds.toFixed(2)} s, ${r.run.queriesPerSecond.toFixed(1)} queries/s.`,
    '',
    `Boxes and image labels: ${r.boxMatching}.`,
    '',
    ...level('Per image', r.image, r),
    ...level('Per box', r.box, r),
    '![rec_threshold sweep](threshold.svg)',
    '',
    '![score distributions](scores.svg)',
    '',
    '## Per label (per image, at the suggested threshold)',
    '',
    '| label | support | recall | precision |',
    '|---|---:|---:|---:|',
    ...r.image.perLabel.map((l) => `| ${cell(l.label)} | ${l.support} | ${pct(l.recall)} | ${pct(l.precision)} |`),
    '',
    '## Most confused (truth -> answer)',
    '',
    ...(r.image.confused.length
      ? ['| truth | answered | count | examples |', '|---|---|---:|---|', ...r.image.confused.map((c) => `| ${cell(c.truth)} | ${cell(c.predicted)} | ${c.count} | ${c.examples.map(cell).join('<br>')} |`)]
      : ['None at the suggested threshold.']),
    '',
  ];
  return out.join('\n');
}
