// The whole test suite, as the README and CI run it: lint and format check, type check, then every test
// against the real servers the tests need, each started here by its own script.
//
// Kafka (scripts/kafka.ts): a single-node cluster and a three-node cluster (replication tests) are started
// before the tests and stopped (their data deleted) after them; the tests find them in OFA_KAFKA_* and
// OFA_KAFKA3_* variables. Debian's kcat, the foreign Kafka client of the interop tests, is installed if missing.
import { spawnSync } from 'node:child_process'
import { ensureKcat, envFor, start, stop } from './kafka.ts'

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  console.log(`\n$ ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { stdio: 'inherit', env })
  if (r.status !== 0) console.error(`\n${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`)
  return r.status ?? 1
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`
}

async function main(): Promise<number> {
  let status = run('npx', ['biome', 'check', '.'])
  if (status !== 0) return status
  status = run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'])
  if (status !== 0) return status

  console.log('\n$ scripts/kafka start --name test; scripts/kafka start --name test-3 --brokers 3')
  const kafkaStarted = Date.now()
  const clusters = ['test', 'test-3']
  try {
    ensureKcat()
    const [single, three] = await Promise.all([
      start({ name: 'test', brokers: 1 }),
      start({ name: 'test-3', brokers: 3 }),
    ])
    console.log(`Kafka: ${single.bootstrap} and ${three.bootstrap} ready in ${seconds(kafkaStarted)}`)
    const env = { ...process.env, ...envFor(single, 'OFA_KAFKA'), ...envFor(three, 'OFA_KAFKA3') }
    const testsStarted = Date.now()
    status = run(process.execPath, ['--test', '--test-concurrency=2', 'packages/*/test/**/*.test.ts'], env)
    console.log(`\ntests ran in ${seconds(testsStarted)}`)
  } catch (err) {
    console.error(`\nKafka for the tests: ${err instanceof Error ? err.message : String(err)}`)
    status = 1
  } finally {
    const stopping = Date.now()
    for (const name of clusters) await stop(name, true).catch((err) => console.error(String(err)))
    console.log(`Kafka stopped in ${seconds(stopping)}`)
  }
  return status
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
