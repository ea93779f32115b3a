// POST /shitu-eval: how well a gallery recognises (lib/eval/evaluate.ts) and
// what in it hurts (lib/eval/gallery-check.ts), as one JSON answer with the
// charts as SVG text. The gallery is an index of the store (indexKey, or the
// default) or pictures sent with labels; the queries are labelled pictures,
// or none with leaveOneOut. Write scope: it embeds as many pictures as a
// build. The whole evaluation takes one recognition slot (admission) and is
// cancelled when the client leaves.
import type { FastifyInstance } from 'fastify';
import { EVAL } from '../../limits';
import { checkGallerySource } from '../../eval/gallery-check';
import type { EvalAnswer } from '../../eval/answer';
import { fromImages, fromIndex } from '../../eval/gallery-source';
import { evaluationCharts } from '../../eval/write-report';
import { requestWork, RouteContext, success } from '../context';
import { ShituError } from '../../errors';
import { mapGalleryError } from '../error-status';
import { checkLabels } from '../image-field';
import type { EvalRequest } from '../schemas';

export function evalRoutes(c: RouteContext) {
  return async function (r: FastifyInstance): Promise<void> {
    r.post<{ Body: EvalRequest }>('/shitu-eval', {
      schema: c.schemas.evaluate,
      config: { scope: 'write', admission: true },
    }, async (request, reply) => {
      const p = c.needPipeline();
      const work = requestWork(reply, c.requestDeadlineMs);
      const signal = work.signal;
      const b = request.body;
      if (b.imageLabelPairs && b.indexKey != null) throw ShituError.atField('ERR_VALIDATION', 'indexKey, imageLabelPairs', 'give one gallery, not both');
      if (!!b.leaveOneOut === !!b.queries) throw ShituError.atField('ERR_VALIDATION', 'queries, leaveOneOut', 'give queries or leaveOneOut: true');
      // Fetched under the request's budget (lib/server/fetches/), as a build's pictures are.
      const fetchAll = async (pairs: Array<{ image: string; label: string }>, where: string) => {
        checkLabels(pairs, where);
        const images = await work.settle(c.images(pairs.map((x) => x.image), (i) => `${where}[${i}].image`, signal, request.decodedImages));
        return pairs.map((x, i) => ({ image: images[i], label: x.label }));
      };
      const gallery = b.imageLabelPairs ? await fetchAll(b.imageLabelPairs, 'imageLabelPairs') : undefined;
      const queries = b.queries ? await fetchAll(b.queries, 'queries') : undefined;
      const index = gallery ? undefined : await c.store.get(c.keyOf(b.indexKey));
      // The check and leave-one-out read every vector back: bounded on a stored index (a gallery sent along is bounded by maxPairs).
      const checkIt = b.check !== false;
      if ((checkIt || b.leaveOneOut) && index && index.count > EVAL.maxCheckEntries)
        throw ShituError.atField('ERR_VALIDATION', checkIt ? 'check' : 'leaveOneOut', `the index holds ${index.count} entries, more than the ${EVAL.maxCheckEntries} the service reads back; send labelled queries with check: false, or run shitu eval / shitu gallery-check`);
      const out = await work.settle(c.limiter.run(async () => {
        // One embedding of the gallery serves the evaluation and the check.
        const source = gallery
          ? await fromImages(p, { pairs: gallery }, { signal, ...c.decodeOverrideFor(p) }).catch((e) => { throw mapGalleryError(e, 'imageLabelPairs'); })
          : fromIndex(index!, !!b.leaveOneOut || checkIt);
        const report = await p.evaluate({
          source, queries, leaveOneOut: b.leaveOneOut,
          targetPrecision: b.targetPrecision, recThreshold: b.recThreshold, detThreshold: b.detThreshold, topk: b.topk,
          signal, ...c.decodeOverrideFor(p),
        });
        const check = !checkIt ? null : await checkGallerySource(source, { signal, pipeline: p, defaultConflict: p.config.rec_threshold });
        return { report, check };
      }, signal));
      const answer: EvalAnswer = { ...out, charts: evaluationCharts(out.report) };
      return success(request, answer);
    });
  };
}
