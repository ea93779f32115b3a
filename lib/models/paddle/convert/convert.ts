// Paddle program + weights -> ONNX file. The walk: check that every op kind of
// every block has a converter (else ERR_MODEL_UNSUPPORTED naming each missing
// kind with its count, before anything is written), bind the feeds to graph
// inputs, convert the global block's ops in program order, bind the fetches
// to graph outputs, drop what no output needs, and stream the file out.
import { ShituError } from '../../../errors';
import type { PaddleDType, PaddleProgram, ParamTable } from '../program';
import { ConvertState, STRUCTURAL_OPS, converterOf } from './context';
import { GraphBuilder, GraphIO } from './graph';
import './ops';
import { WriteResult, writeOnnx } from './write-onnx';

export interface ConvertOptions {
  /** The ONNX file to write (written beside it under a temporary name, then renamed). */
  output: string;
  /**
   * Sizes of the feeds, by feed name (e.g. { x: [1, 3, 224, 224] }), one per
   * dim of the program's feed: a size, or -1 for a size left to run time (a
   * symbolic dim). They replace the program's declared sizes, which Paddle
   * itself never enforces (PaddleOCR's classifier declares 32x100 and runs on
   * 48x192). Shape arithmetic that depends only on fixed sizes folds to
   * constants. Feeds not named keep the program's shape (-1 symbolic).
   */
  inputShapes?: Record<string, number[]>;
}

export interface ConvertResult extends WriteResult {
  file: string;
  inputs: GraphIO[];
  outputs: GraphIO[];
}

/** Op kinds of all blocks that no converter handles, with their counts. */
export function missingOps(program: PaddleProgram): Map<string, number> {
  const missing = new Map<string, number>();
  for (const block of program.blocks) {
    for (const op of block.ops) {
      if (STRUCTURAL_OPS.has(op.type) || converterOf(op.type)) continue;
      missing.set(op.type, (missing.get(op.type) ?? 0) + 1);
    }
  }
  return missing;
}

/** Throws ERR_MODEL_UNSUPPORTED listing every op kind without a converter. */
export function checkSupported(program: PaddleProgram): void {
  const missing = missingOps(program);
  if (missing.size === 0) return;
  const list = [...missing].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  throw new ShituError(
    'ERR_MODEL_UNSUPPORTED',
    `Paddle program uses ${missing.size} op kind(s) the ONNX converter does not handle: ${list.map(([k, n]) => `${k} (x${n})`).join(', ')}`,
    { details: { missingOps: Object.fromEntries(list) } },
  );
}

function feedDims(name: string, declared: number[], given: number[] | undefined): (number | string)[] {
  if (given && (given.length !== declared.length || given.some((d) => !Number.isInteger(d) || (d < 1 && d !== -1)))) {
    throw new ShituError('ERR_CONFIG', `inputShapes.${name}: [${given.join(',')}] needs ${declared.length} sizes (positive, or -1 for a size known at run time), as the program's feed [${declared.join(',')}]`);
  }
  return (given ?? declared).map((d, i) => (d >= 0 ? d : i === 0 ? 'batch' : `${name}_dim${i}`));
}

/** Converts the program into a graph in memory (weights stay in the ParamTable). */
export function buildGraph(program: PaddleProgram, params: ParamTable, options: Omit<ConvertOptions, 'output'> = {}): GraphBuilder {
  checkSupported(program);
  for (const k of Object.keys(options.inputShapes ?? {})) {
    if (!program.feeds.some((f) => f.name === k)) throw new ShituError('ERR_CONFIG', `inputShapes.${k}: the program has no feed of that name (feeds: ${program.feeds.map((f) => f.name).join(', ')})`);
  }
  const b = new GraphBuilder();
  const state = new ConvertState(program, params, b);
  const global = program.blocks[0];
  if (!global) throw new ShituError('ERR_MODEL_INVALID', 'Paddle program has no global block');
  for (const feed of program.feeds) {
    const dims = feedDims(feed.name, feed.shape, options.inputShapes?.[feed.name]);
    if (dims.some((d, i) => feed.shape[i] >= 0 && d !== feed.shape[i])) state.descSizesTrusted = false;
    const name = b.reserve(feed.name);
    b.inputs.push({ name, dtype: feed.dtype, dims });
    b.setFacts(name, { dtype: feed.dtype, shape: dims.map((d) => (typeof d === 'number' ? d : -1)) });
    state.env.set(feed.name, name);
  }
  for (const op of global.ops) {
    if (STRUCTURAL_OPS.has(op.type)) continue;
    state.convertOp(op, global);
  }
  if (program.fetches.length === 0) throw new ShituError('ERR_MODEL_INVALID', 'Paddle program fetches nothing');
  const produced = new Set(b.nodes.flatMap((n) => n.outputs));
  for (const fetch of program.fetches) {
    let value = state.env.get(fetch);
    if (value === undefined) throw new ShituError('ERR_MODEL_INVALID', `Paddle program fetches ${JSON.stringify(fetch)}, which no op writes`);
    // A graph output must be a node's output (not an input or initializer), and each output listed once.
    if (!produced.has(value) || b.outputs.some((o) => o.name === value)) value = b.node('Identity', [value], [b.fresh(fetch)])[0];
    const facts = b.factsOf(value);
    const desc = global.vars.get(fetch);
    const dtype: PaddleDType | undefined = facts.dtype ?? desc?.dtype;
    if (!dtype) throw new ShituError('ERR_MODEL_INVALID', `Paddle program: fetched var ${fetch} has no element type`);
    const shape = facts.shape ?? desc?.shape;
    b.outputs.push({ name: value, dtype, dims: shape?.map((d, i) => (d >= 0 ? d : `${fetch}_dim${i}`)) });
  }
  b.prune();
  return b;
}

/** Converts `program` with the weights of `params` into the ONNX file `output`. */
export async function convertProgram(program: PaddleProgram, params: ParamTable, options: ConvertOptions): Promise<ConvertResult> {
  const b = buildGraph(program, params, options);
  const w = await writeOnnx(b, params, options.output);
  return { ...w, file: options.output, inputs: b.inputs, outputs: b.outputs };
}
