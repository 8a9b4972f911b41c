import Fastify from 'fastify'
import fastifyIcecastRelay from '../../lib/index.js'
import { startDemoUpstream } from './upstream.js'

const port = Number(process.env['PORT'] ?? 8000)
const host = process.env['HOST'] ?? '127.0.0.1'

const upstream = await startDemoUpstream({
  file: new URL('./sample.mp3', import.meta.url).pathname,
  byteRate: 96000 / 8,
  titles: ['Demo chords - C major', 'Demo chords - A minor', 'Demo chords - F major', 'Demo chords - G major'],
  titleEveryMs: 5000
})

const app = Fastify({ logger: { level: process.env['LOG_LEVEL'] ?? 'info' } })
await app.register(fastifyIcecastRelay, {
  relays: [{ url: upstream.url, localMount: '/relay.mp3' }],
  hls: true
})
app.get('/', async () => ({ relays: app.relay.list() }))
app.relay.on('metadata', ({ localMount, metadata }) => app.log.info({ localMount, title: metadata.title }, 'title'))

await app.listen({ port, host })
const listenUrl = `http://${host}:${port}/relay.mp3`
const hlsUrl = `${listenUrl}/index.m3u8`
app.log.info(`demo upstream at ${upstream.url}`)
app.log.info(`relay listening: ${listenUrl}   (try: mpg123 ${listenUrl})`)
process.stdout.write(`\nRelay listening: ${listenUrl}\nHLS (from its first 6 s segment): ${hlsUrl}\nStatus: http://${host}:${port}/\n\n`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await app.close()
    await upstream.close()
  })
}
