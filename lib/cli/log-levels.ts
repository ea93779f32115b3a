// `shitu serve --log-level`: pino's levels, and silent. Apart from serve.ts so
// that the flag's parser (commands/serve.ts) needs no server code loaded.
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = typeof LOG_LEVELS[number];
