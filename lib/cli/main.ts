#!/usr/bin/env node
// `shitu`: the pipeline from a shell. Errors print their code; exit status 2 for
// usage errors (unknown command or option, bad argument), 1 for failures at run
// time. `--help` and `--version` need no native addon (it loads on first use).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../util/package-root';
import { registerEvalCommands } from './commands/eval';
import { registerIndexCommands } from './commands/index';
import { registerMiscCommands } from './commands/misc';
import { registerPredictCommand } from './commands/predict';
import { registerServeCommand } from './commands/serve';
import { registerStoreCommands } from './commands/store';

export function buildCli(): Command {
  const program = new Command('shitu')
    .description('PP-ShiTuV2 general image recognition: main-body detection, feature extraction, vector retrieval')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError()
    .exitOverride(); // inherited by every subcommand: main() picks the exit status
  registerMiscCommands(program);
  registerIndexCommands(program);
  registerPredictCommand(program);
  registerServeCommand(program);
  registerStoreCommands(program);
  registerEvalCommands(program);
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
