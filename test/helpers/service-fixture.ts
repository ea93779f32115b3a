// The fixture the service tests over both stores share: one stand-in pipeline
// (1 thread), one throwaway PostgreSQL server, one temporary directory, made
// before the file's tests and removed after them.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { STANDIN_CONFIG } from './shared';
import { startCluster, TestCluster } from './postgres';

export interface ServiceFixture {
  /** Set in t.before: read it inside tests, not at the file's top level. */
  pipeline: Pipeline;
  cluster: TestCluster;
  tmp: string;
}

export function serviceFixture(tmpPrefix: string): ServiceFixture {
  const fx = { tmp: fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix)) } as ServiceFixture;
  t.before(async () => {
    fx.pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1 });
    fx.cluster = await startCluster();
  });
  t.teardown(async () => {
    await fx.pipeline?.close();
    fx.cluster?.destroy();
    fs.rmSync(fx.tmp, { recursive: true, force: true });
  });
  return fx;
}
