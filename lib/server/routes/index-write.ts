// POST /shitu-index-build, /shitu-index-add, /shitu-index-remove: the writes,
// as PaddleX's serving API defines them. Build and add embed their images
// under admission (one recognition slot) and are aborted when the client leaves.
import type { FastifyInstance } from 'fastify';
import { ShituError } from '../../errors';
import { SERVICE_LIMITS } from '../../limits';
import { checkIndexQuota, checkVectorQuota } from '../auth';
import { clientGone, idMapOf, RouteContext, success } from '../context';
import { HttpError, mapGalleryError } from '../error-status';
import { checkLabels } from '../image-field';
import type { AddRequest, BuildRequest, RemoveRequest } from '../schemas';

export function indexWriteRoutes(c: RouteContext) {
  const images = (pairs: Array<{ image: string }>, signal: AbortSignal) =>
    c.images(pairs.map((x) => x.image), (i) => `imageLabelPairs[${i}].image`, signal);

  return async function (r: FastifyInstance): Promise<void> {
    r.post<{ Body: BuildRequest }>('/shitu-index-build', { schema: c.schemas.build, config: { scope: 'write', admission: true } }, async (request, reply) => {
      const p = c.needPipeline();
      const signal = clientGone(reply);
      const { imageLabelPairs, indexType, metricType } = request.body;
      const principal = request.principal;
      await checkIndexQuota(principal, c.ownership);
      checkVectorQuota(principal, imageLabelPairs.length);
      const labels = checkLabels(imageLabelPairs);
      const imgs = await images(imageLabelPairs, signal);
      const index = await c.limiter.run(
        () => p.buildIndex({ galleryImgs: imgs, galleryLabel: labels, indexType: indexType ?? 'Flat', metricType: metricType ?? 'IP', maxPixelsInFlight: c.pixelsInFlight, ...c.decodeOverrideFor(p) })
          .catch((e) => { throw mapGalleryError(e, 'imageLabelPairs'); }),
        signal);
      const indexKey = await c.store.create(index);
      if (principal) await c.ownership.recordOwner(indexKey, principal.name);
      return success(request, { indexKey, idMap: idMapOf(index.idMapEntries) });
    });

    r.post<{ Body: AddRequest }>('/shitu-index-add', { schema: c.schemas.add, config: { scope: 'write', admission: true } }, async (request, reply) => {
      const p = c.needPipeline();
      const signal = clientGone(reply);
      const { imageLabelPairs } = request.body;
      const labels = checkLabels(imageLabelPairs);
      const key = c.keyOf(request.body.indexKey);
      await c.store.check(key); // 404 before any download
      const principal = request.principal;
      const imgs = await images(imageLabelPairs, signal);
      const idMap = await c.store.append(key, (index) => {
        checkVectorQuota(principal, index.count + imageLabelPairs.length);
        return c.limiter.run(
          () => p.appendIndex({ index, galleryImgs: imgs, galleryLabel: labels, maxPixelsInFlight: c.pixelsInFlight, ...c.decodeOverrideFor(p) })
            .catch((e) => { throw mapGalleryError(e, 'imageLabelPairs'); }),
          signal);
      });
      return success(request, { idMap: idMapOf(idMap) });
    });

    r.post<{ Body: RemoveRequest }>('/shitu-index-remove', { schema: c.schemas.remove, config: { scope: 'write' } }, async (request) => {
      c.needPipeline();
      const key = c.keyOf(request.body.indexKey);
      const { ids } = request.body;
      const idMap = await c.store.remove(key, ids).catch((e) => {
        if (e instanceof ShituError && e.code === 'ERR_INDEX_ID') {
          const unknown = Array.isArray(e.details) ? (e.details as number[]) : [];
          const shown = unknown.slice(0, SERVICE_LIMITS.maxIdsInError).join(', ');
          const more = unknown.length > SERVICE_LIMITS.maxIdsInError ? ` and ${unknown.length - SERVICE_LIMITS.maxIdsInError} more` : '';
          throw new HttpError(404, `ids: not in index ${key}, nothing removed: ${unknown.length ? shown + more : e.message}`);
        }
        throw e;
      });
      return success(request, { idMap: idMapOf(idMap) });
    });
  };
}
