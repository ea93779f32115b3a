// Every recognised label the suite expects, in one table: the tests take their
// cases from here and test/pipeline/tie-margin.test.ts checks each against this
// machine's scores (lead over the runner-up and over the test's threshold above
// the tie margin), so the guard sees exactly what the tests expect.
// Galleries are listed as [image relative to the shared images, label].
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Metric } from './recognition';

const QUICK_START_LABELS = path.resolve(__dirname, '..', '..', 'examples', 'gallery_labels.txt');

/** examples/gallery_labels.txt, the quick start's gallery (pipeline, CLI and worker_threads tests). */
const quickStart: Array<[string, string]> = fs.readFileSync(QUICK_START_LABELS, 'utf8').split('\n')
  .filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.split('\t') as [string, string]);

export const GALLERIES = {
  quickStart,
  /** The quick start's gallery with the kitchen photo appended (pipeline.test.ts, append then remove). */
  quickStartKitchen: [...quickStart, ['misc/coco_000000570688.jpg', 'kitchen scene']] as Array<[string, string]>,
  /** Three drinks of the quick start (pipeline.test.ts: HNSW32, IVF, L2). */
  drinks: quickStart.slice(6, 9),
  /** reduced-decode.test.ts and batching.test.ts. */
  five: [
    ['product_demo/gallery/anmuxi/002.jpg', 'anmuxi'], ['product_demo/gallery/anmuxi/003.jpg', 'anmuxi'],
    ['drink_test_images/mosilian.jpeg', 'mosilian'], ['drink_test_images/youjia.jpeg', 'youjia'], ['drink_test_images/nongfu_spring.jpeg', 'nongfu'],
  ] as Array<[string, string]>,
  /** server.test.ts after the reference client's build, add and remove (ids 0, 2, 3). */
  service: [
    ['product_demo/gallery/anmuxi/001.jpg', 'anmuxi'], ['drink_test_images/nongfu_spring.jpeg', 'nongfu_spring'], ['product_demo/gallery/anmuxi/002.jpg', 'anmuxi'],
  ] as Array<[string, string]>,
  /** server.test.ts: the index named in the pipeline config. */
  configIndex: [['product_demo/gallery/anmuxi/001.jpg', 'from config']] as Array<[string, string]>,
  /** server-security.test.ts: one entry. */
  oneEntry: [['product_demo/query/anmuxi.jpg', 'l0']] as Array<[string, string]>,
  /** web.test.ts: the index the page has built, added to, removed from and added a folder to when it recognises. */
  web: [
    ['product_demo/gallery/anmuxi/001.jpg', '安慕希'], ['drink_test_images/nongfu_spring.jpeg', '农夫山泉'], ['product_demo/gallery/anmuxi/002.jpg', '安慕希'],
    ['product_demo/gallery/anmuxi/003.jpg', '安慕希 酸奶'], ['drink_test_images/youjia.jpeg', '优加'],
  ] as Array<[string, string]>,
} as const;
export type GalleryName = keyof typeof GALLERIES;

export interface RecognitionCase {
  /** Named in assertions and by the guard. */
  id: string;
  gallery: GalleryName;
  /** The query, relative to the shared images. */
  image: string;
  /** Which box, in detection order (default 0). */
  box?: number;
  /** 1: no box passes, the whole image is one box (as gallery images are embedded). */
  detThreshold?: number;
  /** The recognition threshold the test uses (default: models/standin.yaml's 0.5). */
  recThreshold?: number;
  reducedDecode?: boolean;
  indexType?: 'Flat' | 'IVF' | 'HNSW32';
  metric?: Metric;
  expected: string;
}

const own = (gallery: GalleryName, i: number, extra: Partial<RecognitionCase> = {}): RecognitionCase => ({
  id: `${gallery}: ${GALLERIES[gallery][i][0]} finds itself`, gallery, image: GALLERIES[gallery][i][0], detThreshold: 1, expected: GALLERIES[gallery][i][1], ...extra,
});

export const CASES = {
  /** pipeline.test.ts, the CLI and web.test.ts's query: the product photo against the quick start. */
  queryAnmuxi: { id: 'quick start: product_demo/query/anmuxi.jpg', gallery: 'quickStart', image: 'product_demo/query/anmuxi.jpg', expected: '安慕希' },
  /** Each quick-start gallery image, whole, finds its own label first (pipeline.test.ts). */
  galleryOwn: quickStart.map((_, i) => own('quickStart', i)),
  kitchenAppended: own('quickStartKitchen', quickStart.length),
  ivfOwn: own('drinks', 2, { indexType: 'IVF', id: 'drinks (IVF): youjia.jpeg finds itself' }),
  l2Own: own('drinks', 0, { metric: 'L2', id: 'drinks (L2): mosilian.jpeg finds itself' }),
  /**
   * worker_threads (test/consumer/workers.cjs recognises the first six shared photos). Not
   * 100.jpeg, the first: its first box is a known near-tie (安慕希 / 莫斯利安 0.001 apart).
   */
  workersNongfu: { id: 'quick start: drink_test_images/nongfu_spring.jpeg', gallery: 'quickStart', image: 'drink_test_images/nongfu_spring.jpeg', expected: '农夫山泉' },
  /** A JPEG large enough to be decoded at 1/2 (900x1200). Not the anmuxi query: reduced, youjia and anmuxi are 0.01 apart. */
  reducedYoujia: { id: 'five, reduced decode: drink_test_images/youjia.jpeg', gallery: 'five', image: 'drink_test_images/youjia.jpeg', reducedDecode: true, expected: 'youjia' },
  serviceAnmuxi: { id: 'service: product_demo/query/anmuxi.jpg', gallery: 'service', image: 'product_demo/query/anmuxi.jpg', expected: 'anmuxi' },
  configAnmuxi: { id: 'config index: product_demo/query/anmuxi.jpg', gallery: 'configIndex', image: 'product_demo/query/anmuxi.jpg', recThreshold: 0, expected: 'from config' },
  oneEntryAnmuxi: { id: 'one entry: product_demo/query/anmuxi.jpg', gallery: 'oneEntry', image: 'product_demo/query/anmuxi.jpg', recThreshold: 0, expected: 'l0' },
  /** Not the anmuxi query: there 安慕希 酸奶, 安慕希 and 优加 are within 0.008. */
  webAnmuxi: { id: 'web page: product_demo/gallery/anmuxi/001.jpg', gallery: 'web', image: 'product_demo/gallery/anmuxi/001.jpg', expected: '安慕希' },
} satisfies Record<string, RecognitionCase | RecognitionCase[]>;

/** Every case, for the guard. */
export const ALL_CASES: RecognitionCase[] = Object.values(CASES).flat();
