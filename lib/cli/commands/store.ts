// import-paddlex-serving, migrate-index: moving indexes between stores.
import { Command, Option } from 'commander';
import { ShituError } from '../../errors';

export function registerStoreCommands(program: Command): void {
  program
    .command('import-paddlex-serving')
    .description("one-time import of PaddleX serving's stored indexes (its index_storage directory) for shitu serve")
    .requiredOption('--from <dir>', "PaddleX serving's index storage directory (default there: .index)")
    .requiredOption('--index-dir <dir>', 'the --index-dir of shitu serve')
    .option('--overwrite', 'replace indexes already imported')
    .action(async (o) => {
      const { importPaddleXServing } = require('../../store/paddlex-serving-import') as typeof import('../../store/paddlex-serving-import');
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
      const { migrateIndexes } = require('../../store/postgres/migrate') as typeof import('../../store/postgres/migrate');
      await migrateIndexes(sources, o.to, {
        search: o.search,
        onIndex: (m) => process.stdout.write(`${m.source} -> ${m.key} (${m.entries} entries${m.copied ? '' : ', already in the database: skipped'})\n`),
      });
    });
}
