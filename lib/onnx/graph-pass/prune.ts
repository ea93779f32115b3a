// After the rewrites: nodes whose outputs nobody reads (the Constant nodes
// that held 3 and 6, for one), initializers nobody reads, and value_info
// entries for tensors that no longer exist.
import { GraphIndex, OnnxGraph } from './model';
import { count, GraphPassReport } from './report';

export function prune(g: OnnxGraph, r: GraphPassReport): void {
  let removed = 0;
  for (;;) {
    const ix = new GraphIndex(g);
    const live = g.node.filter((n) => n.output.some((o) => o && (ix.graphOutputs.has(o) || (ix.consumers.get(o)?.length ?? 0) > 0)));
    if (live.length === g.node.length) break;
    removed += g.node.length - live.length;
    g.node = live;
  }
  const ix = new GraphIndex(g);
  const read = (name: string) => ix.graphOutputs.has(name) || (ix.consumers.get(name)?.length ?? 0) > 0;
  const inits = g.initializer.length;
  // An initializer that is still a graph input (IR < 4) is part of the model's interface: kept.
  g.initializer = g.initializer.filter((t) => !t.name || read(t.name) || ix.graphInputs.has(t.name));
  const exists = new Set<string>([...ix.producer.keys(), ...ix.graphInputs]);
  for (const t of g.initializer) if (t.name) exists.add(t.name);
  g.valueInfo = g.valueInfo.filter((v) => !v.name || exists.has(v.name));
  count(r, 'prune-nodes', removed);
  count(r, 'prune-initializers', inits - g.initializer.length);
}
