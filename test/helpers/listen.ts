// A raw-socket listener (net, not http) that records the exact status line, headers and body bytes, and an
// independent ICY demuxer to check what it received. Deliberately shares no code with lib/.
import { connect, type Socket } from 'node:net'

export interface ListenOptions {
  /** send `Icy-MetaData: 1` and demux the body when the response has `icy-metaint` */
  icy?: boolean
  /** stop once this many body bytes arrived (the body is cut to exactly this length) */
  bytes?: number
  /** stop this long after the response head arrived (default 2000 ms, or 15000 ms when `bytes` is set) */
  ms?: number
  /** extra request headers (sent as given, after Host and User-Agent) */
  headers?: Record<string, string>
  method?: string
  /** default '1.0' (so no chunked responses) */
  httpVersion?: '1.0' | '1.1'
  /** give up when no complete response head arrived within this time (default 5000 ms) */
  headTimeoutMs?: number
}

export interface ResponseHead {
  /** e.g. 'HTTP/1.0 200 OK' or 'ICY 200 OK' */
  statusLine: string
  status: number
  /** lower-cased names; repeated headers joined with ', ' */
  headers: Record<string, string>
  /** [name, value] in the order received, names as sent */
  rawHeaders: Array<[string, string]>
  /** the head exactly as received, terminator included */
  rawHead: Buffer
}

export interface ListenResult extends ResponseHead {
  /** the body bytes exactly as received (ICY blocks included) */
  body: Buffer
  /** the server closed the connection before we stopped */
  ended: boolean
  /** ms from the head to the end of reading */
  elapsedMs: number
  /** when icy-metaint was in the response: the body demuxed */
  icy?: IcyDemux
}

export interface IcyBlock {
  /** audio bytes before this block */
  offset: number
  raw: Buffer
  /** UTF-8 if valid, else ISO-8859-1 (as players do), trailing NULs removed */
  text: string
}

export interface IcyDemux {
  metaint: number
  audio: Buffer
  /** non-empty metadata blocks in order */
  blocks: IcyBlock[]
  /** StreamTitle of each non-empty block, in order */
  titles: string[]
  /** the body ended inside a metadata block */
  partial: boolean
}

/** Decodes ICY metadata text as players do: UTF-8 when it is valid UTF-8, else ISO-8859-1. */
export function decodeIcyText (raw: Buffer): string {
  let end = raw.length
  while (end > 0 && raw[end - 1] === 0) end--
  const b = raw.subarray(0, end)
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b)
  } catch {
    return b.toString('latin1')
  }
}

/** `StreamTitle='…';` value of a metadata string ('Track Two's; Title' style values survive). */
export function parseStreamTitle (text: string): string | undefined {
  const m = /StreamTitle='(.*?)';(?=Stream[A-Za-z]*=|\s*$)/s.exec(text)
  return m?.[1]
}

/** Splits a body received with `icy-metaint: metaint` into audio and metadata blocks. */
export function demuxIcy (body: Buffer, metaint: number): IcyDemux {
  const audio: Buffer[] = []
  const blocks: IcyBlock[] = []
  let pos = 0
  let audioLen = 0
  let partial = false
  while (pos < body.length) {
    const n = Math.min(metaint, body.length - pos)
    audio.push(body.subarray(pos, pos + n))
    audioLen += n
    pos += n
    if (n < metaint || pos >= body.length) break
    const len = body[pos] * 16
    if (pos + 1 + len > body.length) { partial = true; break }
    if (len > 0) {
      const raw = body.subarray(pos + 1, pos + 1 + len)
      blocks.push({ offset: audioLen, raw, text: decodeIcyText(raw) })
    }
    pos += 1 + len
  }
  const titles = blocks.map((b) => parseStreamTitle(b.text)).filter((t): t is string => t !== undefined)
  return { metaint, audio: Buffer.concat(audio), blocks, titles, partial }
}

function parseHead (raw: Buffer): ResponseHead {
  const lines = raw.toString('latin1').split(/\r?\n/).filter((l) => l !== '')
  const statusLine = lines.shift() ?? ''
  const m = /^(?:HTTP\/\d\.\d|ICY)\s+(\d{3})/.exec(statusLine)
  const headers: Record<string, string> = {}
  const rawHeaders: Array<[string, string]> = []
  for (const l of lines) {
    const i = l.indexOf(':')
    if (i < 0) { rawHeaders.push([l, '']); continue }
    const name = l.slice(0, i).trim()
    const value = l.slice(i + 1).trim()
    rawHeaders.push([name, value])
    const k = name.toLowerCase()
    headers[k] = headers[k] === undefined ? value : `${headers[k]}, ${value}`
  }
  return { statusLine, status: m ? Number(m[1]) : 0, headers, rawHeaders, rawHead: raw }
}

function headEnd (buf: Buffer): number {
  const crlf = buf.indexOf('\r\n\r\n')
  const lf = buf.indexOf('\n\n')
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4
  return lf >= 0 ? lf + 2 : -1
}

export interface OpenListener {
  socket: Socket
  /** resolves with the response head; rejects on connect error, early close or head timeout */
  head: Promise<ResponseHead>
  /** body bytes received so far */
  received (): Buffer
  /** resolves once at least n body bytes arrived (rejects on timeout, or on close with fewer) */
  waitForBytes (n: number, timeoutMs?: number): Promise<Buffer>
  /** resolves when the server closes the connection */
  ended: Promise<void>
  /** closes our side (if still open) and returns what was received */
  close (): Promise<ListenResult>
}

/** Opens a listener connection and keeps reading until close(). */
export function openListener (url: string, opts: ListenOptions = {}): OpenListener {
  const u = new URL(url)
  const port = Number(u.port || 80)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  const socket = connect({ host, port })
  const start = Date.now()
  let headAt = 0
  let pre: Buffer = Buffer.alloc(0)
  const chunks: Buffer[] = []
  let bodyLen = 0
  let headInfo: ResponseHead | undefined
  let isEnded = false
  const waiters = new Set<() => void>()
  const notify = (): void => { for (const w of [...waiters]) w() }

  let resolveHead!: (h: ResponseHead) => void
  let rejectHead!: (e: Error) => void
  const head = new Promise<ResponseHead>((resolve, reject) => { resolveHead = resolve; rejectHead = reject })
  head.catch(() => {})
  let resolveEnded!: () => void
  const ended = new Promise<void>((resolve) => { resolveEnded = resolve })

  const headTimer = setTimeout(() => {
    rejectHead(new Error(`${url}: no complete response head within ${opts.headTimeoutMs ?? 5000} ms; got ${JSON.stringify(pre.toString('latin1').slice(0, 500))}`))
    socket.destroy()
  }, opts.headTimeoutMs ?? 5000)

  socket.on('connect', () => {
    const lines = [
      `${opts.method ?? 'GET'} ${u.pathname}${u.search} HTTP/${opts.httpVersion ?? '1.0'}`,
      `Host: ${u.host}`,
      'User-Agent: icecast-relay-test-listener/1.0'
    ]
    if (opts.icy) lines.push('Icy-MetaData: 1')
    for (const [k, v] of Object.entries(opts.headers ?? {})) lines.push(`${k}: ${v}`)
    socket.write(lines.join('\r\n') + '\r\n\r\n')
  })
  socket.on('data', (d: Buffer) => {
    if (headInfo === undefined) {
      pre = Buffer.concat([pre, d])
      const end = headEnd(pre)
      if (end < 0) return
      headInfo = parseHead(pre.subarray(0, end))
      headAt = Date.now()
      clearTimeout(headTimer)
      const rest = pre.subarray(end)
      if (rest.length) { chunks.push(rest); bodyLen += rest.length }
      resolveHead(headInfo)
    } else {
      chunks.push(d)
      bodyLen += d.length
    }
    notify()
  })
  const onGone = (err?: Error): void => {
    if (isEnded) return
    isEnded = true
    clearTimeout(headTimer)
    if (headInfo === undefined) {
      rejectHead(err ?? new Error(`${url}: connection closed before a complete response head; got ${JSON.stringify(pre.toString('latin1').slice(0, 500))}`))
    }
    resolveEnded()
    notify()
  }
  socket.on('error', (e) => onGone(e))
  socket.on('close', () => onGone())

  const received = (): Buffer => {
    if (chunks.length > 1) { const b = Buffer.concat(chunks); chunks.length = 0; chunks.push(b) }
    return chunks[0] ?? Buffer.alloc(0)
  }

  const waitForBytes = async (n: number, timeoutMs = 15000): Promise<Buffer> => {
    if (bodyLen >= n) return received()
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        if (bodyLen >= n) { done(); resolve(received()) } else if (isEnded) {
          done(); reject(new Error(`${url}: connection ended after ${bodyLen} of ${n} body bytes`))
        }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`${url}: only ${bodyLen} of ${n} body bytes after ${timeoutMs} ms`)) }, timeoutMs)
      const done = (): void => { clearTimeout(timer); waiters.delete(check) }
      waiters.add(check)
    })
  }

  const close = async (): Promise<ListenResult> => {
    const wasEnded = isEnded
    if (!isEnded) {
      socket.destroy()
      await ended
    }
    const h = await head
    let body = received()
    if (opts.bytes !== undefined && body.length > opts.bytes) body = body.subarray(0, opts.bytes)
    const result: ListenResult = { ...h, body, ended: wasEnded, elapsedMs: Date.now() - (headAt || start) }
    const metaint = Number(h.headers['icy-metaint'])
    if (opts.icy && metaint > 0) result.icy = demuxIcy(body, metaint)
    return result
  }

  return { socket, head, received, waitForBytes, ended, close }
}

/**
 * Connects, sends a GET, and reads until `bytes` body bytes arrived, `ms` elapsed after the head, or the
 * server closed. Rejects only when no complete response head arrives.
 */
export async function listen (url: string, opts: ListenOptions = {}): Promise<ListenResult> {
  const l = openListener(url, opts)
  await l.head
  const ms = opts.ms ?? (opts.bytes !== undefined ? 15000 : 2000)
  let timer: NodeJS.Timeout | undefined
  const elapsed = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })
  const enough = opts.bytes !== undefined ? l.waitForBytes(opts.bytes, ms + 1000).then(() => {}, () => {}) : new Promise<void>(() => {})
  await Promise.race([elapsed, enough, l.ended])
  clearTimeout(timer)
  return await l.close()
}
