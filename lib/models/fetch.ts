// `shitu models fetch NAME`: downloads an official Paddle inference archive
// (streamed to a staging directory, lib/models/download.ts), takes the model's
// files out of it (lib/models/untar.ts) and converts it to ONNX in this process
// (lib/models/paddle/convert-dir.ts): no Python, no paddle2onnx.
//
// Each model has its archives in the order tried: the PaddleX 3 release (a PIR
// `inference.json`, at the URL its card in models/ names), then, for the
// PP-ShiTuV2 detector and feature model, PaddleClas's v1.0 release (a legacy
// `inference.pdmodel`, whose real programs are known to convert) should the
// first be unreachable or use an op the converter does not handle.
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { ShituError } from '../errors';
import { modelHome } from './resolve';
import { packageRoot } from '../util/package-root';
import { downloadFile } from './download';
import { extractTar } from './untar';
import { convertPaddleModel } from './paddle/convert-dir';
import { PROGRAM_FILES, CONFIG_FILES } from './paddle/read-program';

const PADDLEX3 = 'https://paddle-model-ecology.bj.bcebos.com/paddlex/official_inference_model/paddle3.0.0';
const PADDLECLAS = 'https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/rec/models/inference';

/** PaddleClas v1.0 archives of PP-ShiTuV2 (the ones its deployment docs download). */
const LEGACY_ARCHIVES: Readonly<Record<string, string>> = {
  'PP-ShiTuV2_det': `${PADDLECLAS}/picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer.tar`,
  'PP-ShiTuV2_rec': `${PADDLECLAS}/PP-ShiTuV2/general_PPLCNetV2_base_pretrained_v1.0_infer.tar`,
};

export const FETCHABLE = ['PP-ShiTuV2_det', 'PP-ShiTuV2_rec', 'PP-ShiTuV2_rec_CLIP_vit_base', 'PP-ShiTuV2_rec_CLIP_vit_large'];

/** The files taken out of an archive (everything else in it is left). */
const WANTED: ReadonlySet<string> = new Set([
  ...PROGRAM_FILES, ...PROGRAM_FILES.map((f) => f.replace(/\.(pdmodel|json)$/, '.pdiparams')), ...CONFIG_FILES,
]);

/** The archive URLs of a model, in the order tried. */
export function archiveUrls(name: string): string[] {
  let first = `${PADDLEX3}/${name}_infer.tar`;
  const card = path.join(packageRoot(), 'models', `${name}.yaml`);
  if (fs.existsSync(card)) {
    const src = YAML.parse(fs.readFileSync(card, 'utf8'))?.source;
    if (typeof src === 'string' && src.startsWith('http')) first = src;
  }
  return LEGACY_ARCHIVES[name] ? [first, LEGACY_ARCHIVES[name]] : [first];
}

export interface FetchModelOptions {
  /** Download from this URL only (a mirror, or a local copy of an official archive). */
  url?: string;
  /** Archives to try in this order instead of the official ones (mirrors). */
  urls?: string[];
  signal?: AbortSignal;
}

/** Downloads, converts and installs `name` under the model home; resolves with its directory. */
export async function fetchModel(name: string, log: (m: string) => void, o: FetchModelOptions = {}): Promise<string> {
  if (!FETCHABLE.includes(name)) throw new ShituError('ERR_MODEL_NOT_FOUND', `unknown model '${name}' (known: ${FETCHABLE.join(', ')})`);
  const dest = path.join(modelHome(), name);
  const urls = o.url !== undefined ? [o.url] : o.urls !== undefined && o.urls.length > 0 ? o.urls : archiveUrls(name);
  // Download and unpacking happen in a staging directory beside the
  // destination; the conversion installs `dest` atomically itself. A failure
  // anywhere leaves no half-installed model for resolveModel to trip on.
  fs.mkdirSync(modelHome(), { recursive: true });
  const staging = fs.mkdtempSync(path.join(modelHome(), `.${name}.download-`));
  try {
    const failures: string[] = [];
    for (const [i, url] of urls.entries()) {
      const last = i === urls.length - 1;
      try {
        await fetchOne(url, path.join(staging, String(i)), dest, log, o.signal);
        return dest;
      } catch (e) {
        // The next archive is tried when this one cannot be had (network) or
        // uses an op the converter does not handle; a broken archive is reported.
        const code = e instanceof ShituError ? e.code : undefined;
        if (o.signal?.aborted || last || (code !== 'ERR_FETCH' && code !== 'ERR_MODEL_UNSUPPORTED')) {
          if (code === 'ERR_FETCH') {
            throw new ShituError(
              'ERR_FETCH',
              `cannot download ${name} (offline?): ${[...failures, (e as Error).message].join('; ')}.\n` +
                `To install it by hand: download ${urls[0]} on a machine with network access, unpack it, and run\n` +
                `  shitu models convert <unpacked dir> --out ${dest}`,
              { cause: e },
            );
          }
          throw e;
        }
        failures.push((e as Error).message);
        log(`${(e as Error).message}; trying the next archive`);
      }
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  throw new ShituError('ERR_MODEL_NOT_FOUND', `no archive to download for ${name}`);
}

/** One archive: download into `work`, take the model's files out, convert and install at `dest`. */
async function fetchOne(url: string, work: string, dest: string, log: (m: string) => void, signal: AbortSignal | undefined): Promise<void> {
  fs.mkdirSync(work);
  const tarPath = path.join(work, 'archive.tar');
  log(`downloading ${url}`);
  await downloadFile(url, tarPath, { log, signal: signal ?? AbortSignal.timeout(600_000) });
  const src = path.join(work, 'model');
  fs.mkdirSync(src);
  const files = await extractTar(tarPath, src, WANTED);
  fs.rmSync(tarPath, { force: true });
  log(`unpacked ${files.join(', ')}`);
  await convertPaddleModel(src, dest, { onProgress: log, replace: true, ...(signal ? { signal } : {}) });
}
