// Registers converters only for the op types no earlier module registered.
//
// Why: the shape and reduction ops below (stack, squeeze2, matmul, ...) sit
// between the converter core's families and the detector / ViT families, and
// the families are written in parallel; a type the core registers first keeps
// the core's converter (ops/index.ts imports the core's modules first), so a
// second registration never throws at load time.
import { OpConverter, converterOf, registerOp } from '../context';

export function registerMissing(table: Record<string, OpConverter>): void {
  for (const [type, fn] of Object.entries(table)) if (!converterOf(type)) registerOp(type, fn);
}
