// @openfactory/cli — the `ofa` command line.

export type { CliIo } from './io.ts'
// Entry: parse argv, run one command, return the exit status.
export { main } from './main.ts'
