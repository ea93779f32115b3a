// POST /shitu-infer: one recognition under admission, aborted when the client
// leaves or the request's deadline passes; answers PaddleX's detectedObjects shape with a Server-Timing header.
import type { FastifyInstance } from 'fastify';
import { RECOGNIZE_IMAGE_LABEL, ShituError, withoutImageLabel } from '../../errors';
import { requestWork, RouteContext, success } from '../context';
import type { InferRequest } from '../schemas';
import { serverTiming } from '../timing';

export function inferRoutes(c: RouteContext) {
  return async function (r: FastifyInstance): Promise<void> {
    r.post<{ Body: InferRequest }>('/shitu-infer', { schema: c.schemas.infer, config: { scope: 'read', admission: true } }, async (request, reply) => {
      const p = c.needPipeline();
      const work = requestWork(reply, c.requestDeadlineMs);
      const b = request.body;
      const returnImage = b.returnImage ?? true;
      const givenKey = b.indexKey ?? undefined;
      // No key, no default key: the pipeline config's own index, when it names one.
      const index = givenKey === undefined && !c.defaultKey && p.config.index ? undefined : await work.settle(c.store.searchable(c.keyOf(givenKey)));
      const [img] = await work.settle(c.images([b.image], () => 'image', work.signal, request.decodedImages));
      const out = await work.settle(c.limiter.run(async () => {
        let res;
        try {
          res = await p.recognize(img, {
            index, detThreshold: b.detThreshold ?? undefined, recThreshold: b.recThreshold ?? undefined, recTopk: b.topk ?? undefined,
            keepImage: returnImage, signal: work.signal, ...c.decodeOverrideFor(p),
          });
        } catch (e) {
          if (!(e instanceof ShituError)) throw e;
          if (e.code === 'ERR_IMAGE_DECODE') throw ShituError.atField(e.code, 'image', 'cannot decode the image (not a supported format, or corrupt)', { cause: e });
          // The field names the image: native's own name for it is dropped.
          if (e.code === 'ERR_IMAGE_TOO_LARGE' || e.code === 'ERR_IMAGE_FORMAT') throw ShituError.atField(e.code, 'image', withoutImageLabel(e.message, RECOGNIZE_IMAGE_LABEL), { cause: e });
          throw e;
        }
        const picture = returnImage ? (await res.image('.jpg')).toString('base64') : null;
        return { boxes: res.boxes, picture, timings: res.timings };
      }, work.signal));
      reply.header('server-timing', serverTiming(out.timings));
      c.observeRecognition(out.timings);
      return success(request, {
        detectedObjects: out.boxes.map((box) => ({
          bbox: box.coordinate,
          recResults: box.labels[0] == null ? [] : box.labels.map((label, j) => ({ label: label as string, score: box.rec_scores[j] as number })),
          score: box.det_score,
        })),
        image: out.picture,
      });
    });
  };
}
