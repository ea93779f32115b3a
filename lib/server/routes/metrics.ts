// GET /metrics: the server's Prometheus metrics (lib/server/metrics.ts) in the
// text exposition format; the read scope when the server has API keys.
import type { FastifyInstance } from 'fastify';
import type { ServiceMetrics } from '../metrics';

export function metricsRoutes(metrics: ServiceMetrics) {
  return async function (r: FastifyInstance): Promise<void> {
    r.get('/metrics', { schema: { summary: 'Extension: Prometheus metrics (text exposition format)', produces: ['text/plain'] }, config: { scope: 'read' } }, async (_request, reply) => {
      const { contentType, body } = await metrics.text();
      reply.type(contentType);
      return body;
    });
  };
}
