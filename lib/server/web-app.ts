// The web app at `/`: the page (dist/web/index.html) and its assets under
// /web/, built from web/ by scripts/build-web.js and shipped with the package,
// served from the same origin as the API (no CDN, works offline). The page is
// served without authentication; the API calls it makes carry the key the user
// types in. Files are served by @fastify/static (ranges, ETags, safe paths).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import { packageRoot } from '../util/package-root';

/** Where the built page lives in the package. */
export const WEB_APP_DIR = path.join(packageRoot(), 'dist', 'web');

// The page needs nothing but its own origin: a query image given by URL is
// shown by the browser (img-src http: https:), every call goes to the service.
const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' blob: data: http: https:; script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Asset names carry no hash: revalidate (ETag) on every load so an upgrade shows at once.
  'cache-control': 'no-cache',
};

function setPageHeaders(reply: FastifyReply) {
  reply.headers(PAGE_HEADERS);
}

/** Registers GET / (the page) and GET /web/* (its script and style sheet). */
export async function registerWebApp(app: FastifyInstance, opts: { dir?: string } = {}): Promise<void> {
  const dir = opts.dir ?? WEB_APP_DIR;
  if (!fs.existsSync(path.join(dir, 'index.html'))) {
    app.get('/', { schema: { hide: true } }, async (request, reply) => {
      reply.code(404);
      // Named relative to the package: clients are not told where it is installed.
      const rel = path.relative(packageRoot(), path.join(dir, 'index.html')).split(path.sep).join('/');
      return { logId: request.id, errorCode: 404, errorMsg: `the web app is not built (no ${rel.startsWith('..') ? 'index.html' : rel}): run npm run build:ts` };
    });
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/web/',
    index: false,
    dotfiles: 'ignore',
    cacheControl: false,
    setHeaders: setPageHeaders,
  });
  app.get('/', { schema: { hide: true } }, (_request, reply) => {
    setPageHeaders(reply);
    return reply.sendFile('index.html');
  });
}
