// The benchmark's helpers, by job: paths.ts (inputs), stats.ts (statistics and
// timing loops), machine.ts (machine, run clock, GC), io.ts (result files, this
// run's output folder), ../report/svg.ts (charts), data.ts (synthetic vectors). Re-exported
// here so sections can import from one place.
export * from './paths';
export * from './stats';
export * from './machine';
export * from './io';
export * from '../report/svg';
export * from './data';
