// The stages every native detect, embed and recognize times, in the order it
// reports them (native/stage_times.h ForEachStage; test/native/contracts.test.ts
// checks the two agree). The one list: the addon's typings (binding.ts),
// StageTimings (lib/pipeline/result.ts) and the Server-Timing header
// (lib/server/timing.ts) follow it. Its own file so that the typings and the
// result class both read it without importing each other.
export const STAGE_NAMES = ['decode', 'detPreprocess', 'detInference', 'detPostprocess', 'recPreprocess', 'recInference', 'recBatchWait', 'search', 'total'] as const;
export type StageName = (typeof STAGE_NAMES)[number];
