/**
 * `ofa opcua certs [list]` and `ofa opcua certs trust THUMBPRINT|FILE`: the OPC UA certificate store
 * (`--pki DIR`, else `OPENFACTORY_PKI_DIR`, else ./.ofa-pki). A server presenting a certificate nobody trusted
 * yet is refused (`OFA_OPCUA_SECURITY`) and its certificate lands in the store's `rejected/`; `list` shows it
 * with its thumbprint, `trust` moves it to `trusted/` (or adds a certificate file given by path). A running
 * `ofa up` picks the change up on its next connection attempt.
 */
import { parseArgs } from 'node:util'
import { defaultPkiDir, listCertificates, trustCertificate } from '@openfactory/connector-opcua'
import { type CliIo, EXIT } from '../io.ts'
import { usageError } from '../usage.ts'

export async function opcuaCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { pki: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  })
  const [what, action = 'list', ...rest] = positionals
  if (what !== 'certs') throw usageError(`ofa opcua: expected "certs", got ${JSON.stringify(what ?? '')}`)
  const pkiDir =
    values.pki !== undefined
      ? defaultPkiDir({ OPENFACTORY_PKI_DIR: values.pki }, io.cwd)
      : defaultPkiDir(io.env, io.cwd)
  switch (action) {
    case 'list': {
      if (rest.length > 0) throw usageError(`ofa opcua certs list takes no arguments, got "${rest[0]}"`)
      const certs = await listCertificates(pkiDir)
      if (certs.length === 0) {
        io.stdout.write(`no server certificates in ${pkiDir}\n`)
        return EXIT.ok
      }
      for (const c of certs)
        io.stdout.write(`${c.status.padEnd(8)} ${c.thumbprint}  ${c.subject}  valid to ${c.validTo}\n`)
      return EXIT.ok
    }
    case 'trust': {
      if (rest.length !== 1)
        throw usageError('ofa opcua certs trust needs one THUMBPRINT (8 hex digits at least) or FILE')
      const c = await trustCertificate(pkiDir, rest[0] as string)
      io.stdout.write(`trusted ${c.thumbprint}  ${c.subject}\n`)
      return EXIT.ok
    }
    default:
      throw usageError(`ofa opcua certs: expected list or trust, got "${action}"`)
  }
}
