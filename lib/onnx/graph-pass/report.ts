// What one run of the graph pass did: nodes rewritten per rewrite, and why a
// rewrite was left out (e.g. an opset that could not be raised safely).
export interface GraphPassReport {
  /** Rewrite name -> how many times it applied (nodes fused, removed, inputs stripped). */
  applied: Record<string, number>;
  /** Rewrites that found candidates but did not run, with the reason. */
  skipped: string[];
  nodesBefore: number;
  nodesAfter: number;
}

export function count(r: GraphPassReport, rewrite: string, n = 1): void {
  if (n > 0) r.applied[rewrite] = (r.applied[rewrite] ?? 0) + n;
}
