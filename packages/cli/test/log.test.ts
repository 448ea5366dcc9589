import assert from 'node:assert/strict'
import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { openEmbeddedLog, partitionFor } from '@openfactory/log'
import { ofa, tempDir } from './helpers.ts'

test('produce, then topics and tail read it back (read-only, beside the owner)', async (t) => {
  const cwd = await tempDir(t)
  const produced = await ofa(
    ['log', 'produce', 'ofa_assets', '--key', 'sensor-001', '{"ID":"a","VALUE":1}', '{"ID":"a","VALUE":2}'],
    { cwd },
  )
  assert.equal(produced.code, 0, produced.stderr)
  const p = partitionFor('sensor-001', 6)
  assert.equal(produced.stdout, `ofa_assets\t${p}\t0\nofa_assets\t${p}\t1\n`)

  const fromStdin = await ofa(['log', 'produce', 'other', '--partitions', '1'], { cwd, stdin: 'x\ny\n\nz\n' })
  assert.equal(fromStdin.stdout, 'other\t0\t0\nother\t0\t1\nother\t0\t2\n')

  // an owner holds the directory while we inspect it
  const owner = await openEmbeddedLog({ dir: join(cwd, '.ofa-data') })
  t.after(() => owner.close())
  const topics = await ofa(['log', 'topics'], { cwd })
  assert.equal(topics.code, 0, topics.stderr)
  assert.match(topics.stdout, /^ofa_assets\tpartitions=6\tpolicy=delete\trecords=2$/m)
  assert.match(topics.stdout, /^other\tpartitions=1\tpolicy=delete\trecords=3$/m)

  const tail = await ofa(['log', 'tail', 'ofa_assets'], { cwd })
  const records = tail.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  assert.deepEqual(
    records.map((r) => [r.partition, r.offset, r.key, r.value]),
    [
      [p, 0, 'sensor-001', '{"ID":"a","VALUE":1}'],
      [p, 1, 'sensor-001', '{"ID":"a","VALUE":2}'],
    ],
  )
  assert.match(records[0].timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const limited = await ofa(['log', 'tail', 'other', '--from', '1', '--limit', '1'], { cwd })
  assert.equal(JSON.parse(limited.stdout).value, 'y')

  // a second writer is refused while the owner runs
  const second = await ofa(['log', 'produce', 'other', 'w'], { cwd })
  assert.equal(second.code, 1)
  assert.match(second.stderr, /OFA_LOG_LOCKED/)
})

test('tail --follow prints records appended while it runs, until stopped', async (t) => {
  const cwd = await tempDir(t)
  const owner = await openEmbeddedLog({ dir: join(cwd, '.ofa-data') })
  t.after(() => owner.close())
  await owner.createTopic({ name: 'live', partitions: 2 })
  const stop = new AbortController()
  const following = ofa(['log', 'tail', 'live', '--follow', '--limit', '3'], { cwd, signal: stop.signal })
  setTimeout(
    () =>
      void owner.append('live', [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
        { key: 'a', value: '3' },
      ]),
    100,
  )
  const timer = setTimeout(() => stop.abort(), 15_000)
  const r = await following
  clearTimeout(timer)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).value)
      .sort(),
    ['1', '2', '3'],
  )
})

test('verify finds damage with file and byte offset; repair moves it aside; nothing else is lost', async (t) => {
  const cwd = await tempDir(t)
  const dir = join(cwd, '.ofa-data')
  const log = await openEmbeddedLog({ dir })
  await log.createTopic({ name: 'm', partitions: 1 })
  for (let i = 0; i < 3; i++) await log.append('m', [{ key: 'k', value: `value-${i}`.repeat(10) }])
  await log.close()
  assert.equal((await ofa(['log', 'verify'], { cwd })).code, 0)

  const pdir = join(dir, 'topics', 'm', '0')
  const segment = join(pdir, (await readdir(pdir)).find((f) => f.endsWith('.log')) as string)
  const bytes = await readFile(segment)
  bytes[40] = (bytes[40] as number) ^ 0xff // inside the first batch: acknowledged data, not a torn tail
  await writeFile(segment, bytes)

  const verify = await ofa(['log', 'verify'], { cwd })
  assert.equal(verify.code, 1)
  assert.match(verify.stdout, /^m\/0\t.*DAMAGED$/m)
  assert.match(verify.stderr, /\.log@\d+: OFA_LOG_CORRUPT /)

  const repair = await ofa(['log', 'repair'], { cwd })
  assert.equal(repair.code, 0, repair.stderr)
  assert.match(repair.stdout, /^moved-aside\tm\/0\t/m)
  assert.ok(
    (await readdir(pdir)).some((f) => f.includes('.damaged')),
    'the damaged segment is kept aside',
  )
  assert.equal((await ofa(['log', 'verify'], { cwd })).code, 0, 'after repair the log verifies')
})

test('verify tells lost acknowledged records from a torn tail; repair says what was lost and keeps offsets going up (issue 10, items 5 and 16)', async (t) => {
  const cwd = await tempDir(t)
  const dir = join(cwd, '.ofa-data')
  const log = await openEmbeddedLog({ dir })
  await log.createTopic({ name: 'cmds', partitions: 2 })
  for (let i = 0; i < 10; i++) await log.append('cmds', [{ value: `command-${i}`.repeat(8), partition: 0 }])
  await log.append('cmds', [{ value: 'other', partition: 1 }])
  await log.createTopic({ name: 'registry', partitions: 1, cleanupPolicy: 'compact' })
  await log.append('registry', [{ key: 'k', value: 'v' }])
  await log.close()

  // The segment of cmds/0 loses its second half: acknowledged records, not a torn tail.
  const segment = join(dir, 'topics', 'cmds', '0', '00000000000000000000.log')
  await truncate(segment, (await stat(segment)).size >> 1)
  // And registry's topic.json is garbage.
  await writeFile(
    join(dir, 'topics', 'registry', 'topic.json'),
    '{"name": "registry", "cleanupPolicy": "compact", \u0000',
  )

  const topics = await ofa(['log', 'topics'], { cwd })
  assert.equal(topics.code, 1)
  assert.match(topics.stdout, /^ {2}0\tDAMAGED$/m)
  assert.match(topics.stdout, /^ {2}1\tstart=0\tend=1$/m, 'the other partition is listed')
  assert.match(topics.stderr, /00000000000000000000\.log@\d+: OFA_LOG_CORRUPT acknowledged records/)

  const tail = await ofa(['log', 'tail', 'cmds'], { cwd })
  assert.equal(tail.code, 1)
  assert.equal(JSON.parse(tail.stdout).value, 'other', 'the intact partition is printed')
  assert.match(tail.stderr, /OFA_LOG_CORRUPT/)

  const verify = await ofa(['log', 'verify'], { cwd })
  assert.equal(verify.code, 1)
  assert.match(verify.stdout, /^cmds\/0\t.*acknowledged=10\tDAMAGED$/m)
  assert.match(verify.stdout, /^cmds\/1\t.*\tok$/m)
  assert.match(
    verify.stderr,
    /cmds\/0\/00000000000000000000\.log@\d+: OFA_LOG_CORRUPT acknowledged records are damaged or missing/,
  )
  assert.match(verify.stderr, /registry\/topic\.json@0: OFA_LOG_CORRUPT/)
  assert.match(verify.stderr, /2 problems; "ofa log repair" fixes them/)

  const repair = await ofa(['log', 'repair'], { cwd })
  assert.equal(repair.code, 0, repair.stderr)
  assert.match(repair.stdout, /^moved-aside\tcmds\/0\t\S+\.log -> \S+\.log\.damaged\tlost offsets \d+\.\.9/m)
  assert.match(
    repair.stdout,
    /^rebuilt\tregistry\t\S+topic\.json -> \S+topic\.json\.damaged\t.*guessed: .*retentionMs/m,
  )
  assert.match(repair.stdout, /repairs, recorded in .*repairs\.jsonl$/m)
  const recorded = (await readFile(join(dir, 'repairs.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  assert.deepEqual(recorded.map((r) => r.action).sort(), ['moved-aside', 'rebuilt'])

  const again = await ofa(['log', 'verify'], { cwd })
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stdout, /note: offsets \d+ to 9 were recorded as lost by a repair/)
  const produced = await ofa(['log', 'produce', 'cmds', '--key', 'x', 'next'], { cwd })
  assert.equal(produced.code, 0, produced.stderr)
  const reopened = await openEmbeddedLog({ dir })
  t.after(() => reopened.close())
  const [m] = await reopened.append('cmds', [{ value: 'after', partition: 0 }])
  assert.ok(m!.offset >= 10, 'offsets are never given out twice')
  assert.equal((await reopened.describeTopic('registry')).cleanupPolicy, 'compact')
})
