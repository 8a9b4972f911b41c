import { readFileSync } from 'node:fs'
import net from 'node:net'
import { buildMetadataBlock } from '../../lib/shoutcast/metadata.js'
import { IcyMuxer } from '../../lib/shoutcast/mux.js'

export interface DemoUpstreamOptions {
  /** The audio file played in a loop. */
  file: string
  /** Bytes per second the file is sent at: its bitrate / 8. */
  byteRate: number
  mount?: string
  titles?: string[]
  titleEveryMs?: number
  metaint?: number
  /** `icy` answers `ICY 200 OK` with lowercase headers as SHOUTcast v1 does; `http` as Icecast 2 does. */
  statusLine?: 'http' | 'icy'
  contentType?: string
  host?: string
  port?: number
}

export interface DemoUpstream {
  port: number
  url: string
  /** Every byte the upstream sent to its clients since it started, ICY blocks excluded. */
  close: () => Promise<void>
}

const TICK_MS = 100
const HEAD_LIMIT = 8192

interface Client {
  socket: net.Socket
  muxer?: IcyMuxer
}

/**
 * A small stand-in for a radio server: plays an audio file in a loop, in real time, to every client at
 * once, with ICY titles that change every few seconds for clients that ask. The demo relays it; tests
 * use it where a real Icecast is not the point.
 */
export async function startDemoUpstream (options: DemoUpstreamOptions): Promise<DemoUpstream> {
  const audio = readFileSync(options.file)
  const mount = options.mount ?? '/demo.mp3'
  const metaint = options.metaint ?? 8192
  const titles = options.titles ?? ['Demo chords']
  const clients = new Set<Client>()
  let position = 0
  let titleIndex = 0
  let block = buildMetadataBlock({ title: titles[0] })
  const sliceBytes = Math.max(1, Math.round(options.byteRate * TICK_MS / 1000))

  function nextSlice (): Buffer {
    const end = position + sliceBytes
    const slice = end <= audio.length
      ? audio.subarray(position, end)
      : Buffer.concat([audio.subarray(position), audio.subarray(0, end - audio.length)])
    position = end % audio.length
    return slice
  }

  const parts: Buffer[] = []
  const clock = setInterval(() => {
    const slice = nextSlice()
    for (const client of clients) {
      if (client.muxer === undefined) {
        client.socket.write(slice)
        continue
      }
      client.muxer.interleave(slice, block, parts)
      client.socket.cork()
      for (const part of parts) client.socket.write(part)
      client.socket.uncork()
      parts.length = 0
    }
  }, TICK_MS)
  const titleClock = setInterval(() => {
    titleIndex = (titleIndex + 1) % titles.length
    block = buildMetadataBlock({ title: titles[titleIndex] })
  }, options.titleEveryMs ?? 10000)

  function answer (socket: net.Socket, requestHead: string): void {
    const [requestLine = '', ...headerLines] = requestHead.split('\r\n')
    const path = requestLine.split(' ')[1]
    if (path !== mount) {
      socket.end('HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such mount\n')
      return
    }
    const wantsIcy = headerLines.some((line) => /^icy-metadata:\s*1\s*$/i.test(line))
    const icy = options.statusLine === 'icy'
    const lines = [
      icy ? 'ICY 200 OK' : 'HTTP/1.0 200 OK',
      `${icy ? 'content-type' : 'Content-Type'}:${icy ? '' : ' '}${options.contentType ?? 'audio/mpeg'}`,
      'icy-name:fastify-icecast-relay demo',
      `icy-br:${Math.round(options.byteRate * 8 / 1000)}`,
      ...(wantsIcy ? [`icy-metaint:${metaint}`] : [])
    ]
    socket.write(lines.join('\r\n') + '\r\n\r\n')
    const client: Client = { socket, ...(wantsIcy && { muxer: new IcyMuxer(metaint) }) }
    clients.add(client)
    socket.on('close', () => clients.delete(client))
  }

  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy())
    let head = ''
    const onData = (data: Buffer): void => {
      head += data.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) {
        if (head.length > HEAD_LIMIT) socket.destroy()
        return
      }
      socket.off('data', onData)
      answer(socket, head.slice(0, end))
    }
    socket.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    url: `http://${options.host ?? '127.0.0.1'}:${port}${mount}`,
    close: async () => {
      clearInterval(clock)
      clearInterval(titleClock)
      for (const client of clients) client.socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
