// predict: recognise images, files, directories or URLs; reference-shaped JSON.
import { Command } from 'commander';
import { intArg, numberArg, pipelineFlags, withPipeline } from '../options';

export function registerPredictCommand(program: Command): void {
  pipelineFlags(program.command('predict'))
    .description('recognise images (files, directories, URLs); reference-shaped JSON on stdout')
    .argument('<inputs...>', 'images, directories or http(s) URLs')
    .option('--index <dir>', 'index directory (default: the config\'s index)')
    .option('--det-threshold <t>', 'detection threshold', numberArg(0, 1))
    .option('--rec-threshold <t>', 'recognition threshold', numberArg(0, 1))
    .option('--topk <k>', 'results per box', intArg(1))
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
}
