// @openfactory/log/testing — what a backbone implementation tests itself with.

// The backbone contract suite (node:test), and the helpers its tests use.
export {
  type BackboneHarness,
  eventually,
  readAll,
  readTopic,
  rejectsWith,
  runBackboneContract,
  type Seen,
  seen,
  uniqueName,
} from './contract.ts'
