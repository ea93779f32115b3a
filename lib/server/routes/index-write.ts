// POST /shitu-index-build, /shitu-index-add, /shitu-index-remove: the writes,
// as PaddleX's serving API defines them. Build and add embed their images
// under admission (one recognition slot) and are aborted when the client leaves
// or the request's deadline passes. With onError 'skip' (an extension) unusable
// images are left out and listed in the answer's `skipped`.
import type { FastifyInstance } from 'fastify';
import { ShituError } from '../../errors';
import { SERVICE_LIMITS } from '../../limits';
import { checkVectorQuota, checkWriteAccess, reserveIndex } from '../auth';
import { idMapOf, requestWork, RouteContext, success } from '../context';
import { mapGalleryError, skippedOf } from '../error-status';
import { checkLabels } from '../image-field';
import type { DecodedImages } from '../body/decoded-images';
import { buildKeyOf, idempotentWrite, sendWrite } from '../idempotency';
import type { AddRequest, BuildRequest, RemoveRequest } from '../schemas';
import { IndexData } from '../../vector-index/index-data';
import type { GalleryResult, SkippedImage } from '../../pipeline/options';

/** buildIndex/appendIndex's answer in either shape (onError 'fail' gives the index alone). */
const asResult = (r: IndexData | GalleryResult): GalleryResult => (r instanceof IndexData ? { index: r, skipped: [] } : r);

export function indexWriteRoutes(c: RouteContext) {
  const images = (pairs: Array<{ image: string }>, signal: AbortSignal, decoded?: DecodedImages) =>
    c.images(pairs.map((x) => x.image), (i) => `imageLabelPairs[${i}].image`, signal, decoded);

  return async function (r: FastifyInstance): Promise<void> {
    r.post<{ Body: BuildRequest }>('/shitu-index-build', { schema: c.schemas.build, config: { scope: 'write', admission: true, idempotent: true } }, async (request, reply) => {
      const p = c.needPipeline();
      const work = requestWork(reply, c.requestDeadlineMs);
      const { imageLabelPairs, indexType, metricType, onError } = request.body;
      const principal = request.principal;
      checkVectorQuota(principal, imageLabelPairs.length);
      const labels = checkLabels(imageLabelPairs);
      // The key is chosen first and reserved against the quota before any work
      // (atomically: concurrent builds cannot overshoot); a failed build frees it.
      const indexKey = c.store.checkKey(buildKeyOf(request));
      const reservation = await reserveIndex(principal, indexKey, c.ownership);
      let index, skipped;
      try {
        const imgs = await work.settle(images(imageLabelPairs, work.signal, request.decodedImages));
        ({ index, skipped } = asResult(await work.settle(c.limiter.run(
          () => p.buildIndex({
            galleryImgs: imgs, galleryLabel: labels, indexType, metricType, onError, // their defaults (SERVICE_INDEX_SHAPE, 'fail') are the schema's, filled in by Ajv
            signal: work.signal, maxPixelsInFlight: c.pixelsInFlight, ...c.decodeOverrideFor(p),
          }).catch((e) => { throw mapGalleryError(e, 'imageLabelPairs'); }),
          work.signal))));
        const built = skipped;
        await c.store.create(index, indexKey, { idempotency: idempotentWrite(request, (idMap) => ({ indexKey, idMap: idMapOf(idMap), ...(onError === 'skip' && { skipped: skippedOf(built, 'imageLabelPairs') }) })) });
      } catch (e) {
        await reservation?.release().catch((err) => request.log.error({ err, logId: request.id }, 'releasing an index reservation failed'));
        throw e;
      }
      // The index exists, so it counts even if this bookkeeping fails.
      await reservation?.commit().catch((err) => request.log.error({ err, logId: request.id }, 'committing an index reservation failed'));
      return sendWrite(request, reply, success(request, { indexKey, idMap: idMapOf(index.idMapEntries), ...(onError === 'skip' && { skipped: skippedOf(skipped, 'imageLabelPairs') }) }));
    });

    r.post<{ Body: AddRequest }>('/shitu-index-add', { schema: c.schemas.add, config: { scope: 'write', admission: true, idempotent: true } }, async (request, reply) => {
      const p = c.needPipeline();
      const work = requestWork(reply, c.requestDeadlineMs);
      const { imageLabelPairs, onError } = request.body;
      const labels = checkLabels(imageLabelPairs);
      const key = c.keyOf(request.body.indexKey);
      await c.store.check(key); // 404 before any download
      const principal = request.principal;
      await checkWriteAccess(principal, key, c.ownership);
      const imgs = await work.settle(images(imageLabelPairs, work.signal, request.decodedImages));
      let skipped: SkippedImage[] = [];
      const idMap = await work.settle(c.store.append(key, (index) => {
        // Early refusal before embedding (where the store hands over the index itself);
        // checkCount below is the check that holds under concurrent adds.
        checkVectorQuota(principal, index.count + imageLabelPairs.length);
        return c.limiter.run(
          () => p.appendIndex({ index, galleryImgs: imgs, galleryLabel: labels, onError, signal: work.signal, maxPixelsInFlight: c.pixelsInFlight, ...c.decodeOverrideFor(p) })
            .then((r) => { skipped = asResult(r).skipped; }, (e) => { throw mapGalleryError(e, 'imageLabelPairs'); }),
          work.signal);
      }, {
        checkCount: (n) => checkVectorQuota(principal, n),
        idempotency: idempotentWrite(request, (entries) => ({ idMap: idMapOf(entries), ...(onError === 'skip' && { skipped: skippedOf(skipped, 'imageLabelPairs') }) })),
      }));
      return sendWrite(request, reply, success(request, { idMap: idMapOf(idMap), ...(onError === 'skip' && { skipped: skippedOf(skipped, 'imageLabelPairs') }) }));
    });

    r.post<{ Body: RemoveRequest }>('/shitu-index-remove', { schema: c.schemas.remove, config: { scope: 'write', idempotent: true } }, async (request, reply) => {
      c.needPipeline();
      const key = c.keyOf(request.body.indexKey);
      const { ids } = request.body;
      await c.store.check(key); // 404 before 403
      await checkWriteAccess(request.principal, key, c.ownership);
      const idMap = await c.store.remove(key, ids, { idempotency: idempotentWrite(request, (entries) => ({ idMap: idMapOf(entries) })) }).catch((e) => {
        if (e instanceof ShituError && e.code === 'ERR_INDEX_ID') {
          const unknown = Array.isArray(e.details) ? (e.details as number[]) : [];
          const shown = unknown.slice(0, SERVICE_LIMITS.maxIdsInError).join(', ');
          const more = unknown.length > SERVICE_LIMITS.maxIdsInError ? ` and ${unknown.length - SERVICE_LIMITS.maxIdsInError} more` : '';
          throw ShituError.atField('ERR_INDEX_ID', 'ids', `not in index ${key}, nothing removed: ${unknown.length ? shown + more : e.message}`, { cause: e });
        }
        throw e;
      });
      return sendWrite(request, reply, success(request, { idMap: idMapOf(idMap) }));
    });
  };
}
