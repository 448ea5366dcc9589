// @openfactory/cli — the `ofa` command line.

// Entry: parse argv, run one command, return the exit status.
export { main } from './main.ts'
export type { CliIo } from './io.ts'
