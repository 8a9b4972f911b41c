import { NotStreamlistError, StreamlistTimeoutError, StreamlistTooLargeError, UpstreamClosedError } from '../errors.js'
import type { ResolvedMaster } from '../options.js'
import { openUpstream, type UpstreamConnection } from '../upstream/client.js'

export const STREAMLIST_PATH = '/admin/streamlist.txt'

/** Far more than any real list (Icecast's lines are short); a master that streams at us instead stops here. */
export const MAX_STREAMLIST_BYTES = 1 << 20

export interface StreamlistRequest {
  master: ResolvedMaster
  userAgent: string
  /** milliseconds for the whole exchange: connecting, the head, the body */
  timeout: number
  signal: AbortSignal
  /** added to the path: a slave's registration (`?rserver=...`), or empty */
  query?: string
}

/**
 * Fetches a master's stream list as Icecast's slave does: `GET /admin/streamlist.txt` with Basic auth,
 * the body read to its end (or its Content-Length). Rejects on a non-2xx answer, a body that is no text
 * (an HTML page), one over the size cap, and a master too slow to finish within the timeout.
 */
export async function fetchStreamlist (request: StreamlistRequest): Promise<string> {
  const { master, timeout, signal } = request
  const startedAt = Date.now()
  const listUrl = new URL(STREAMLIST_PATH, master.url)
  // the registration's load changes at each poll: messages name the list alone
  const url = new URL(STREAMLIST_PATH + (request.query ?? ''), master.url)
  const label = master.name
  const connection = await openUpstream({
    url,
    username: master.username,
    password: master.password,
    userAgent: request.userAgent,
    redirects: master.redirects,
    ...(master.tlsOptions !== undefined && { tlsOptions: master.tlsOptions }),
    connectTimeout: timeout,
    sourceTimeout: timeout,
    signal,
    label: listUrl.href,
    typeError: (contentType) => isStreamlistType(contentType) ? undefined : new NotStreamlistError(label, contentType)
  })
  const body = await readBody(connection, {
    length: contentLength(connection),
    signal,
    timeoutError: new StreamlistTimeoutError(label, timeout),
    timeLeft: timeout - (Date.now() - startedAt),
    tooLarge: new StreamlistTooLargeError(label, MAX_STREAMLIST_BYTES)
  })
  const text = body.toString('utf8')
  const contentType = connection.head.headers['content-type']
  if (isHtmlPage(contentType, text)) throw new NotStreamlistError(label, `an HTML page (${contentType})`)
  return text
}

/** A stream list is text. icecast-kh labels its list `text/html`, so the label alone cannot rule a page out. */
function isStreamlistType (contentType: string | undefined): boolean {
  return contentType === undefined || /^\s*text\//i.test(contentType)
}

const HTML_TYPE = /^\s*text\/html\s*(;|$)/i

/** A body labelled HTML that opens with markup is a login or error page; kh's list opens with a path. */
export function isHtmlPage (contentType: string | undefined, body: string): boolean {
  return contentType !== undefined && HTML_TYPE.test(contentType) && /^\s*</.test(body)
}

function contentLength (connection: UpstreamConnection): number | undefined {
  const value = connection.head.headers['content-length']
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined
}

interface BodyOptions {
  /** the Content-Length, when the head gave one: a master may keep the socket open after it */
  length: number | undefined
  signal: AbortSignal
  timeLeft: number
  timeoutError: Error
  tooLarge: Error
}

/** The body up to its end, its Content-Length or the size cap, whichever comes first. */
function readBody (connection: UpstreamConnection, options: BodyOptions): Promise<Buffer> {
  const { length, signal } = options
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const finish = (error?: Error): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      connection.close()
      if (error === undefined) resolve(Buffer.concat(chunks, Math.min(size, length ?? size)))
      else reject(error)
    }
    const complete = (): boolean => length !== undefined && size >= length
    function onAbort (): void {
      finish(signal.reason as Error)
    }
    const timer = setTimeout(() => finish(options.timeoutError), Math.max(0, options.timeLeft)).unref()
    if (signal.aborted) {
      onAbort()
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    connection.start({
      data (chunk) {
        chunks.push(chunk)
        size += chunk.length
        if (size > MAX_STREAMLIST_BYTES) finish(options.tooLarge)
        else if (complete()) finish()
      },
      // A stream list ends when the master closes the connection: that is its normal end, not a failure.
      end (error) {
        finish(error instanceof UpstreamClosedError ? undefined : error)
      }
    })
    if (length === 0) finish()
  })
}
