// Each default has one source: lib/limits.ts (or the shape constants of
// lib/vector-index/index-types.ts), and every path that applies it reads that
// constant: the pipeline config, the service's settings and schemas, the
// `shitu serve` flags, and what a real server builds when a request leaves
// the choice open.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { DET_THRESHOLD, FETCH_BUDGET, IDEMPOTENCY, SERVICE_LIMITS } from '../../lib/limits';
import { DEFAULT_CONFIG } from '../../lib/pipeline/config';
import { resolveServerOptions } from '../../lib/server/options';
import { routeSchemas } from '../../lib/server/schemas';
import { registerServeCommand } from '../../lib/cli/commands/serve';
import { SERVICE_INDEX_SHAPE } from '../../lib/vector-index/index-types';
import { createPipeline } from '../../lib/pipeline/pipeline';
import { createServer } from '../../lib/server/app';
import { img, STANDIN_CONFIG } from '../helpers/shared';

t.test('the detection threshold: the config default is DET_THRESHOLD.default', async (t) => {
  t.equal(DEFAULT_CONFIG.det_threshold, DET_THRESHOLD.default);
});

t.test('the service: createServer and `shitu serve` default to SERVICE_LIMITS', async (t) => {
  const s = resolveServerOptions({ indexDir: os.tmpdir() });
  t.same(
    [s.maxConcurrent, s.maxQueue, s.bodyLimit, s.requestDeadlineMs, s.schemaLimits.maxPairs, s.schemaLimits.maxRemoveIds, s.fetchBudget.perRequest],
    [SERVICE_LIMITS.maxConcurrent, SERVICE_LIMITS.maxQueue, SERVICE_LIMITS.bodyLimit, SERVICE_LIMITS.requestDeadlineMs, SERVICE_LIMITS.maxPairs, SERVICE_LIMITS.maxRemoveIds, FETCH_BUDGET.perRequest],
  );
  t.same(s.idempotency, { ttlMs: IDEMPOTENCY.ttlMs, leaseMs: SERVICE_LIMITS.requestDeadlineMs + IDEMPOTENCY.leaseMs }, 'Idempotency-Key: kept IDEMPOTENCY.ttlMs, a claim held past the deadline by IDEMPOTENCY.leaseMs');
  const program = new Command('shitu');
  registerServeCommand(program);
  const serve = program.commands.find((c) => c.name() === 'serve')!;
  const flag = (long: string) => serve.options.find((o) => o.long === long)?.defaultValue;
  t.same([flag('--max-concurrent'), flag('--max-queue'), flag('--body-limit')], [SERVICE_LIMITS.maxConcurrent, SERVICE_LIMITS.maxQueue, SERVICE_LIMITS.bodyLimit]);
});

t.test("every body's pairs follow the server's maxPairs; a build's shape defaults to SERVICE_INDEX_SHAPE", async (t) => {
  const s = routeSchemas({ maxPairs: 7, maxRemoveIds: 9 });
  const items = (body: unknown, key: string) => (body as { properties: Record<string, { maxItems?: number; default?: unknown }> }).properties[key];
  t.same([items(s.build.body, 'imageLabelPairs').maxItems, items(s.add.body, 'imageLabelPairs').maxItems, items(s.evaluate.body, 'imageLabelPairs').maxItems, items(s.evaluate.body, 'queries').maxItems], [7, 7, 7, 7]);
  t.same([items(s.build.body, 'indexType').default, items(s.build.body, 'metricType').default], [SERVICE_INDEX_SHAPE.indexType, SERVICE_INDEX_SHAPE.metricType]);
});

t.test('a real server builds SERVICE_INDEX_SHAPE when the request names no shape', async (t) => {
  const pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1 });
  const indexDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-defaults-'));
  const app = createServer(pipeline, { indexDir });
  t.teardown(async () => { await app.close(); await pipeline.close(); fs.rmSync(indexDir, { recursive: true, force: true }); });
  const image = fs.readFileSync(img('product_demo/gallery/anmuxi/001.jpg')).toString('base64');
  const built = await app.inject({ method: 'POST', url: '/shitu-index-build', payload: { imageLabelPairs: [{ image, label: 'anmuxi' }] } });
  t.equal(built.statusCode, 200, built.body);
  const view = await app.inject({ method: 'GET', url: `/indexes/${built.json().result.indexKey}` });
  t.same([view.json().result.indexType, view.json().result.metricType], [SERVICE_INDEX_SHAPE.indexType, SERVICE_INDEX_SHAPE.metricType]);
});
