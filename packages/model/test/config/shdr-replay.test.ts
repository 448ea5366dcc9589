import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { isShdrReplayImage, readShdrReplayEnvironment } from '../../src/config/index.ts'
import { tmpFactory } from './helpers.ts'

const read = (env: string[] | undefined) => readShdrReplayEnvironment(env)

test('defaults: speed 1, loop true; the file as written without a folder', () => {
  assert.deepEqual(read(['SHDR_FILE=a.shdr']), { settings: { file: 'a.shdr', speed: 1, loop: true }, problems: [] })
})

test('speeds are positive decimal numbers; loops are booleans as written elsewhere in the files', () => {
  for (const [text, speed] of [
    ['2.5', 2.5],
    ['10', 10],
    ['.5', 0.5],
    ['1e2', 100],
  ] as const) {
    assert.equal(read(['SHDR_FILE=a', `SHDR_SPEED=${text}`]).settings.speed, speed, text)
  }
  for (const [text, loop] of [
    ['false', false],
    ['FALSE', false],
    ['no', false],
    ['0', false],
    ['true', true],
    ['on', true],
  ] as const) {
    assert.equal(read(['SHDR_FILE=a', `SHDR_LOOP=${text}`]).settings.loop, loop, text)
  }
})

test('every other speed or loop is a problem at its entry; the last entry of a name counts', () => {
  for (const bad of ['abc', '0', '-1', '', '0x10', '1e400', 'Infinity', 'NaN']) {
    const { problems } = read(['SHDR_FILE=a', `SHDR_SPEED=${bad}`])
    assert.deepEqual(
      problems.map((p) => [p.variable, p.index, p.code]),
      [['SHDR_SPEED', 1, 'OFA_CONFIG_VALUE']],
      bad,
    )
  }
  for (const bad of ['maybe', '', '2']) {
    assert.deepEqual(
      read(['SHDR_LOOP=false', `SHDR_LOOP=${bad}`, 'SHDR_FILE=a']).problems.map((p) => [p.variable, p.index]),
      [['SHDR_LOOP', 1]],
      bad,
    )
  }
  assert.equal(read(['SHDR_SPEED=abc', 'SHDR_SPEED=3', 'SHDR_FILE=a']).settings.speed, 3)
})

test('SHDR_FILE is required, not empty, and with a folder resolved from it and checked on disk', async (t) => {
  assert.deepEqual(
    read(undefined).problems.map((p) => [p.variable, p.index, p.code]),
    [['SHDR_FILE', undefined, 'OFA_CONFIG_MISSING_FIELD']],
  )
  assert.deepEqual(
    read(['SHDR_FILE=']).problems.map((p) => [p.variable, p.index, p.code]),
    [['SHDR_FILE', 0, 'OFA_CONFIG_VALUE']],
  )
  const dir = await tmpFactory(t, { 'logs/a.shdr': '' })
  assert.deepEqual(readShdrReplayEnvironment(['SHDR_FILE=logs/a.shdr'], { dir }), {
    settings: { file: join(dir, 'logs/a.shdr'), speed: 1, loop: true },
    problems: [],
  })
  assert.deepEqual(
    readShdrReplayEnvironment(['SHDR_FILE=logs/b.shdr'], { dir }).problems.map((p) => p.code),
    ['OFA_CONFIG_FILE'],
  )
})

test('the replay image, with or without a tag', () => {
  assert.ok(isShdrReplayImage('openfactory/shdr-replay'))
  assert.ok(isShdrReplayImage('openfactory/shdr-replay:1.2'))
  assert.ok(!isShdrReplayImage('ghcr.io/openfactory/shdr-replay'))
  assert.ok(!isShdrReplayImage('openfactory/shdr-replayer'))
})
