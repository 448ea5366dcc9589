// A webhook receiver like a maintenance or MES system would run: it checks each delivery's signature (HMAC-SHA256
// of `<timestamp>.<body>` with the shared secret, docs/reference/apps.md#webhooks), refuses stale or forged ones,
// drops a delivery it has seen (the same X-OpenFactory-Delivery id may come again after a restart), and prints the
// rest. Run: OFA_WEBHOOK_SECRET=... npx node examples/enterprise-factory/webhook-receiver.ts [--port 9090]
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { port: { type: 'string', default: '9090' } } })
const secret = process.env.OFA_WEBHOOK_SECRET
if (!secret) {
  console.error('set OFA_WEBHOOK_SECRET: the secret the webhook signs with')
  process.exit(2)
}
const seen = new Set<string>()

function signedBy(timestamp: string, body: Buffer, signature: string): boolean {
  const want = Buffer.from(
    `sha256=${createHmac('sha256', secret as string)
      .update(`${timestamp}.`)
      .update(body)
      .digest('hex')}`,
  )
  const got = Buffer.from(signature)
  return got.length === want.length && timingSafeEqual(got, want)
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks)
    const timestamp = String(req.headers['x-openfactory-timestamp'] ?? '')
    const id = String(req.headers['x-openfactory-delivery'] ?? '')
    const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300
    if (!fresh || !signedBy(timestamp, body, String(req.headers['x-openfactory-signature'] ?? ''))) {
      res.writeHead(401).end()
      console.log(`refused a delivery: ${fresh ? 'bad signature' : 'stale timestamp'}`)
      return
    }
    res.writeHead(204).end()
    if (seen.has(id)) return
    seen.add(id)
    const d = JSON.parse(body.toString('utf8'))
    if (d.kind === 'alert') {
      const a = d.alert
      console.log(`${a.at}  ${a.severity.padEnd(8)} ${a.state.padEnd(12)} ${a.asset} ${a.rule}: ${a.message}`)
    } else {
      console.log(`${d.observation.timestamp}  ${d.asset} ${d.observation.id} = ${JSON.stringify(d.observation.value)}`)
    }
  })
})
server.listen(Number(values.port), '127.0.0.1', () =>
  console.log(`webhook receiver on http://127.0.0.1:${values.port}/`),
)
