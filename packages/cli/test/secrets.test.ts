// Credentials as Docker secrets (deploy/secrets.ts): a secret for each variable the YAML files refer to that ofa apply
// has, named by its value; mounted in our services only; read back into ofa run's environment.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { secretsEnv, stackSecrets, withSecrets } from '../src/deploy/secrets.ts'
import type { StackFile, StackService } from '../src/deploy/stack.ts'
import { tempDir } from './helpers.ts'

/** `${NAME}` as a config file writes it. */
const ref = (name: string) => `$${'{'}${name}}`
const files = new Map([
  [
    'devices/opcua.yml',
    Buffer.from(`password: ${ref('OPCUA_PASSWORD')}\nuser: $OPCUA_USER\nport: ${ref('PORT:-4840')}\nrpm: $$rpm\n`),
  ],
  ['notes.txt', Buffer.from(ref('NOT_A_CONFIG'))],
])

test('a secret per variable the YAML files refer to and the environment has, named by a hash of its value', () => {
  const env = { OPCUA_PASSWORD: 's3cret', OPCUA_USER: 'ofa', NOT_A_CONFIG: 'x', UNRELATED: 'y' }
  const secrets = stackSecrets('plant', files, env)
  assert.deepEqual(
    secrets.map((s) => [s.variable, s.key, s.value]),
    [
      ['OPCUA_PASSWORD', 'env_OPCUA_PASSWORD', 's3cret'],
      ['OPCUA_USER', 'env_OPCUA_USER', 'ofa'],
    ],
    'PORT is unset (its default applies), rpm is no variable, a text file is not read',
  )
  for (const s of secrets) assert.match(s.name, /^ofa-OPCUA_(PASSWORD|USER)-[0-9a-f]{16}$/)
  const rotated = stackSecrets('plant', files, { ...env, OPCUA_PASSWORD: 'n3w' })
  assert.notEqual(rotated[0]?.name, secrets[0]?.name, 'a new value, a new secret')
  assert.equal(rotated[1]?.name, secrets[1]?.name)
  assert.notEqual(stackSecrets('other', files, env)[0]?.name, secrets[0]?.name, 'per stack')

  const svc = (image: string): StackService =>
    ({ image, labels: {}, networks: ['hostnet'], deploy: {} }) as unknown as StackService
  const stack = {
    version: '3.8',
    services: { ours: svc('openfactory/ofa:1'), theirs: svc('acme/dash:1') },
  } as unknown as StackFile
  const out = withSecrets(stack, secrets, 'openfactory/ofa:1')
  assert.deepEqual(out.services.ours?.secrets, [
    { source: 'env_OPCUA_PASSWORD', target: 'ofa-env-OPCUA_PASSWORD' },
    { source: 'env_OPCUA_USER', target: 'ofa-env-OPCUA_USER' },
  ])
  assert.equal(out.services.theirs?.secrets, undefined, "another image's app gets none")
  assert.deepEqual(out.secrets?.env_OPCUA_PASSWORD, { external: true, name: secrets[0]?.name })
  assert.doesNotMatch(JSON.stringify(out), /s3cret/, 'no value in the stack file')
})

test("ofa run's environment: the mounted secrets under the variables it has", async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'ofa-env-OPCUA_PASSWORD'), 's3cret')
  await writeFile(join(dir, 'ofa-env-OPCUA_USER'), 'from-secret')
  await writeFile(join(dir, 'other-secret'), 'ignored')
  const env = await secretsEnv({ OPCUA_USER: 'from-env', HOME: '/root' }, dir)
  assert.deepEqual(env, { OPCUA_PASSWORD: 's3cret', OPCUA_USER: 'from-env', HOME: '/root' })
  assert.deepEqual(await secretsEnv({ A: 'b' }, join(dir, 'missing')), { A: 'b' })
})
