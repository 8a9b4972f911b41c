import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { rootCertificates } from 'node:tls'
import { openUpstream, withSystemRoots, type UpstreamConnection, type UpstreamOptions } from '../../../lib/upstream/client.js'
import { closedPort, privateCa, selfSignedCertificate, serve, type Exchange, type TestServer } from '../../helpers/servers.js'

const servers: TestServer[] = []
after(() => Promise.all(servers.map((server) => server.close())))

async function server (respond: (exchange: Exchange) => void, secure?: { key: Buffer, cert: Buffer }): Promise<TestServer> {
  const started = await serve(respond, secure)
  servers.push(started)
  return started
}

function open (url: string, extra: Partial<UpstreamOptions> = {}): Promise<UpstreamConnection> {
  return openUpstream({ url: new URL(url), userAgent: 'test-relay/1', connectTimeout: 1000, sourceTimeout: 1000, ...extra })
}

/** Starts the connection; resolves with every byte received and the error `end` was called with. */
function collect (connection: UpstreamConnection): Promise<{ body: Buffer, error: Error & { code?: string }, ends: number }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let ends = 0
    connection.start({
      data: (chunk) => chunks.push(chunk),
      end (error) {
        ends++
        // Wait a little so that a second end call would be counted.
        setTimeout(() => resolve({ body: Buffer.concat(chunks), error: error as Error & { code?: string }, ends }), 30)
      }
    })
  })
}

const audioHead = 'HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n'

test('HTTP/1.0 200: request bytes, head, body bytes in order, UpstreamClosedError when the server closes', async () => {
  const upstream = await server(({ socket }) => {
    socket.write(audioHead + 'first;')
    setTimeout(() => socket.end('second'), 20)
  })
  const connection = await open(`http://relay:hack%3Ame@127.0.0.1:${upstream.port}/live.mp3?type=http`, {
    headers: { 'Icy-MetaData': '1' }
  })
  assert.equal(upstream.exchanges[0]!.request,
    'GET /live.mp3?type=http HTTP/1.0\r\n' +
    `Host: 127.0.0.1:${upstream.port}\r\n` +
    'User-Agent: test-relay/1\r\n' +
    'Icy-MetaData: 1\r\n' +
    `Authorization: Basic ${Buffer.from('relay:hack:me').toString('base64')}\r\n\r\n`)
  assert.deepEqual(connection.head, {
    protocol: 'HTTP/1.0', status: 200, reason: 'OK', headers: Object.assign(Object.create(null), { 'content-type': 'audio/mpeg' })
  })
  assert.equal(connection.url.href, `http://127.0.0.1:${upstream.port}/live.mp3?type=http`)
  await sleep(60) // paused until start: nothing may be lost meanwhile
  const { body, error, ends } = await collect(connection)
  assert.equal(body.toString(), 'first;second')
  assert.equal(error.code, 'FST_ICECAST_RELAY_UPSTREAM_CLOSED')
  assert.equal(ends, 1)
})

test('username and password options win over the URL\'s', async () => {
  const upstream = await server(({ socket }) => socket.end(audioHead))
  const connection = await open(`http://a:b@127.0.0.1:${upstream.port}/`, { username: 'relay', password: 'pw' })
  connection.close()
  assert.match(upstream.exchanges[0]!.request, new RegExp(`Authorization: Basic ${btoa('relay:pw')}\r\n`))
})

test('ICY 200 OK with lowercase headers and no space after the colon', async () => {
  const upstream = await server(({ socket }) => {
    socket.write('ICY 200 OK\r\nicy-notice1:<BR>hi\r\ncontent-type:audio/mpeg\r\nicy-metaint:8192\r\nicy-name:Test FM\r\n\r\n')
    socket.write(Buffer.alloc(100, 7))
  })
  const connection = await open(`http://127.0.0.1:${upstream.port}/;`)
  assert.equal(connection.head.protocol, 'ICY')
  assert.deepEqual({ ...connection.head.headers }, {
    'icy-notice1': '<BR>hi', 'content-type': 'audio/mpeg', 'icy-metaint': '8192', 'icy-name': 'Test FM'
  })
  const received: Buffer[] = []
  connection.start({ data: (chunk) => received.push(chunk), end () {} })
  while (Buffer.concat(received).length < 100) await sleep(5)
  connection.close()
  assert.deepEqual(Buffer.concat(received), Buffer.alloc(100, 7))
})

const capture = new URL('../../../../shared/conformance/node-icy/icy-server-response-metaint', import.meta.url)
test('a real SHOUTcast DNAS 1.9.8 answer, replayed (conformance capture)', {
  skip: !existsSync(capture) && 'the conformance folder ../shared/conformance is absent; the synthetic ICY test covers this path'
}, async () => {
  const bytes = readFileSync(capture)
  const upstream = await server(({ socket }) => {
    for (let at = 0; at < bytes.length; at += 997) socket.write(bytes.subarray(at, at + 997))
    socket.end()
  })
  const connection = await open(`http://127.0.0.1:${upstream.port}/`)
  assert.equal(connection.head.headers['icy-metaint'], '32768')
  const { body } = await collect(connection)
  assert.deepEqual(body, bytes.subarray(bytes.indexOf('\r\n\r\n') + 4))
})

test('HTTP/1.1 chunked: body decoded across odd splits, the last chunk ends the stream', async () => {
  const audio = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) % 256))
  const encoded = Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: audio/mpeg\r\n\r\n'),
    ...[1, 7, 1000, 16, 3976].map((size, i, sizes) => {
      const start = sizes.slice(0, i).reduce((sum, n) => sum + n, 0)
      return Buffer.concat([Buffer.from(`${size.toString(16)};i=${i}\r\n`), audio.subarray(start, start + size), Buffer.from('\r\n')])
    }),
    Buffer.from('0\r\nX-End: 1\r\n\r\n')
  ])
  let closed: Promise<void> | undefined
  const upstream = await server(async ({ socket, closed: gone }) => {
    closed = gone
    // Odd splits: inside size lines, between CR and LF, inside data. The server never closes.
    for (const [from, to] of [[0, 50], [50, 89], [89, 90], [90, 91], [91, 1200], [1200, 1201], [1201, 4000], [4000, encoded.length]]) {
      socket.write(encoded.subarray(from, to))
      await sleep(2)
    }
  })
  const connection = await open(`${upstream.origin}/`)
  const { body, error } = await collect(connection)
  assert.deepEqual(body, audio)
  assert.equal(error.code, 'FST_ICECAST_RELAY_UPSTREAM_CLOSED')
  await closed
})

test('a broken chunked body ends the stream with BadChunkError', async () => {
  const upstream = await server(async ({ socket }) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n')
    await sleep(20)
    socket.write('not-hex\r\n')
  })
  const { body, error } = await collect(await open(`${upstream.origin}/`))
  assert.equal(body.toString(), 'abc')
  assert.equal(error.code, 'FST_ICECAST_RELAY_BAD_CHUNK')
})

test('Transfer-Encoding: chunked on HTTP/1.0 is not decoded', async () => {
  const upstream = await server(({ socket }) => socket.end('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc'))
  const { body } = await collect(await open(`${upstream.origin}/`))
  assert.equal(body.toString(), '3\r\nabc')
})

test('a redirect to another port is refused by default, naming where it led; the other server is never asked', async () => {
  const target = await server(({ socket }) => socket.end(audioHead))
  const first = await server(({ socket }) => socket.end(`HTTP/1.0 302 Found\r\nLocation: http://u:p@127.0.0.1:${target.port}/secret\r\n\r\n`))
  await assert.rejects(open(`${first.origin}/live`), {
    code: 'FST_ICECAST_RELAY_REDIRECT_REFUSED',
    message: `upstream ${first.origin}/live: redirect to ${target.origin}/secret refused: another server than 127.0.0.1:${first.port} (the option redirects: 'public' or 'any' allows it)`
  })
  await assert.rejects(open(`${first.origin}/live`, { redirects: 'same-server' }), { code: 'FST_ICECAST_RELAY_REDIRECT_REFUSED' })
  assert.equal(target.exchanges.length, 0)
})

test('redirects: public refuses an address that is not public, and a name that resolves to one, before connecting', async () => {
  const target = await server(({ socket }) => socket.end(audioHead))
  for (const [host, why] of [
    ['127.0.0.1', /refused: 127\.0\.0\.1 is not a public address \(redirects: 'public'\)$/],
    ['127.0.0.2', /refused: 127\.0\.0\.2 is not a public address/],
    ['localhost', /refused: localhost resolves to (127\.0\.0\.1|::1), which is not a public address \(redirects: 'public'\)$/]
  ] as const) {
    const first = await server(({ socket }) => socket.end(`HTTP/1.0 302 Found\r\nLocation: http://${host}:${target.port}/secret\r\n\r\n`))
    await assert.rejects(open(`${first.origin}/live`, { redirects: 'public' }), {
      code: 'FST_ICECAST_RELAY_REDIRECT_REFUSED', message: why
    }, host)
  }
  assert.equal(target.exchanges.length, 0)
  // the configured server's own redirects are followed whatever its address
  const own = await server(({ request, socket }) => socket.end(request.startsWith('GET /live ') ? 'HTTP/1.0 302 Found\r\nLocation: /mp3\r\n\r\n' : audioHead))
  const connection = await open(`${own.origin}/live`, { redirects: 'public' })
  connection.close()
  assert.equal(connection.url.href, `${own.origin}/mp3`)
})

test('redirects: any follows a redirect to another port, credentials not sent there', async () => {
  const target = await server(({ socket }) => socket.end(audioHead))
  const first = await server(({ socket }) => socket.end(`HTTP/1.0 302 Found\r\nLocation: ${target.origin}/stream\r\n\r\n`))
  const connection = await open(`http://u:p@127.0.0.1:${first.port}/`, { redirects: 'any' })
  connection.close()
  assert.equal(connection.url.href, `${target.origin}/stream`)
  assert.match(first.exchanges[0]!.request, /Authorization: Basic/)
  assert.doesNotMatch(target.exchanges[0]!.request, /Authorization/)
  assert.match(target.exchanges[0]!.request, new RegExp(`^GET /stream HTTP/1.0\r\nHost: 127.0.0.1:${target.port}\r\n`))
})

test('a 401 after a redirect to another server names that server and says the credentials were not forwarded', async () => {
  const target = await server(({ socket }) => socket.end('HTTP/1.0 401 Unauthorized\r\n\r\n'))
  const first = await server(({ socket }) => socket.end(`HTTP/1.0 302 Found\r\nLocation: ${target.origin}/stream\r\n\r\n`))
  await assert.rejects(open(`http://u:p@127.0.0.1:${first.port}/live`, { redirects: 'any' }), {
    code: 'FST_ICECAST_RELAY_UPSTREAM_STATUS',
    message: `upstream ${first.origin}/live (redirected to ${target.origin}/stream): answered 401 Unauthorized (the credentials were not forwarded past a redirect to another server)`
  })
  // without credentials to forward, or on the same server, there is nothing to say about them
  await assert.rejects(open(`${first.origin}/live`, { redirects: 'any' }), {
    message: `upstream ${first.origin}/live (redirected to ${target.origin}/stream): answered 401 Unauthorized`
  })
  const own = await server(({ request, socket }) => socket.end(request.startsWith('GET /live ') ? 'HTTP/1.0 302 Found\r\nLocation: /a\r\n\r\n' : 'HTTP/1.0 401 Unauthorized\r\n\r\n'))
  await assert.rejects(open(`http://u:p@127.0.0.1:${own.port}/live`, { label: 'the relay' }), {
    message: `upstream the relay (redirected to ${own.origin}/a): answered 401 Unauthorized`
  })
})

test('relative redirects with every redirect status: followed on the same server, credentials kept', async () => {
  const upstream = await server(({ request, socket }) => {
    const path = request.split(' ')[1]!.replace(/\?.*/, '')
    const status = { '/301': '301 Moved', '/302': '302 Found', '/303': '303 See Other', '/307': '307 Temporary', '/308': '308 Permanent' }[path]
    const next = { '/301': '/302', '/302': '303', '/303': '/dir/../307', '/307': '308?q=1', '/308': '/final' }[path]
    socket.end(status === undefined ? audioHead : `HTTP/1.1 ${status}\r\nlocation: ${next}\r\nContent-Length: 0\r\n\r\n`)
  })
  const connection = await open(`http://u:p@127.0.0.1:${upstream.port}/301`)
  connection.close()
  assert.equal(connection.url.href, `${upstream.origin}/final`)
  assert.deepEqual(upstream.exchanges.map(({ request }) => request.split(' ')[1]), ['/301', '/302', '/303', '/307', '/308?q=1', '/final'])
  assert.ok(upstream.exchanges.every(({ request }) => request.includes(`Authorization: Basic ${btoa('u:p')}`)))
})

test('a redirect loop stops at maxRedirects with TooManyRedirectsError, every socket closed', async () => {
  const upstream = await server(({ socket }) => socket.write('HTTP/1.0 302 Found\r\nLocation: /again\r\n\r\n'))
  await assert.rejects(open(`${upstream.origin}/`, { maxRedirects: 3 }), {
    code: 'FST_ICECAST_RELAY_TOO_MANY_REDIRECTS', message: /more than 3 redirects/
  })
  assert.equal(upstream.exchanges.length, 4)
  await Promise.all(upstream.exchanges.map(({ closed }) => closed))
  await assert.rejects(open(`${upstream.origin}/`, { maxRedirects: 0 }), { code: 'FST_ICECAST_RELAY_TOO_MANY_REDIRECTS' })
})

test('BadRedirectError for a missing, unparseable or non-http Location', async () => {
  for (const location of ['', 'Location: http://[bad\r\n', 'Location: ftp://example.com/\r\n', 'Location: \r\n']) {
    const upstream = await server(({ socket }) => socket.write(`HTTP/1.0 301 Moved\r\n${location}\r\n`))
    await assert.rejects(open(`${upstream.origin}/`), { code: 'FST_ICECAST_RELAY_BAD_REDIRECT' }, location)
    await upstream.exchanges[0]!.closed
  }
})

test('https: a redirect from http, the certificate checked with the given ca, SNI sent for names', async () => {
  const certificate = selfSignedCertificate()
  const secure = await server(({ socket }) => socket.write('ICY 200 OK\r\ncontent-type:audio/aacp\r\n\r\naac'), certificate)
  const plain = await server(({ socket }) => socket.end(`HTTP/1.0 302 Found\r\nLocation: ${secure.origin}/aac\r\n\r\n`))
  const connection = await open(`${plain.origin}/`, { redirects: 'any', tlsOptions: { ca: certificate.cert.toString() } })
  assert.equal(connection.url.href, `${secure.origin}/aac`)
  assert.equal(connection.head.headers['content-type'], 'audio/aacp')
  const received: Buffer[] = []
  connection.start({ data: (chunk) => received.push(chunk), end () {} })
  connection.close()
  assert.equal(Buffer.concat(received).toString(), 'aac')

  const byName = await open(`https://localhost:${secure.port}/`, { tlsOptions: { ca: certificate.cert.toString() } })
  byName.close()
  assert.equal((secure.exchanges[1]!.socket as import('node:tls').TLSSocket).servername, 'localhost')
  assert.match(secure.exchanges[1]!.request, new RegExp(`Host: localhost:${secure.port}\r\n`))

  await assert.rejects(open(`${secure.origin}/`), { code: 'FST_ICECAST_RELAY_CONNECT_FAILED', message: /self-signed/ })
  const trusting = await open(`${secure.origin}/`, { tlsOptions: { rejectUnauthorized: false } })
  trusting.close()
})

test('servername and rejectUnauthorized hold for the configured server only; ca for every server of the opening', async () => {
  const ca = privateCa()
  const secure = await server(({ socket }) => socket.end(audioHead), ca.issue('DNS:radio.test'))
  const own = await open(`${secure.origin}/`, { tlsOptions: { ca: ca.cert, servername: 'radio.test' } })
  own.close()
  assert.equal((secure.exchanges[0]!.socket as import('node:tls').TLSSocket).servername, 'radio.test')

  const plain = await server(({ socket }) => socket.end(`HTTP/1.0 302 Found\r\nLocation: ${secure.origin}/\r\n\r\n`))
  await assert.rejects(open(`${plain.origin}/`, { redirects: 'any', tlsOptions: { ca: ca.cert, servername: 'radio.test' } }), {
    code: 'FST_ICECAST_RELAY_CONNECT_FAILED', message: /redirected to .*IP: 127\.0\.0\.1 is not in the cert's list/
  })
  await assert.rejects(open(`${plain.origin}/`, { redirects: 'any', tlsOptions: { rejectUnauthorized: false } }), {
    code: 'FST_ICECAST_RELAY_CONNECT_FAILED', message: /unable to verify the first certificate/
  })
})

test('401, 404 and 500 reject with UpstreamStatusError and close the socket', async () => {
  for (const status of ['401 Unauthorized', '404 File Not Found', '500 Internal Server Error']) {
    const upstream = await server(({ socket }) => socket.write(`HTTP/1.0 ${status}\r\nContent-Type: text/html\r\n\r\n<html>`))
    await assert.rejects(open(`${upstream.origin}/`), {
      code: 'FST_ICECAST_RELAY_UPSTREAM_STATUS', message: `upstream ${upstream.origin}/: answered ${status}`
    })
    await upstream.exchanges[0]!.closed
  }
})

test('a 200 of a type that is no stream (SHOUTcast v1\'s page for browsers, SVG, XHTML, a playlist) rejects with NotAudioError', async () => {
  for (const type of ['text/html', 'Text/HTML; charset=utf-8', 'image/svg+xml', 'application/xhtml+xml', 'audio/x-scpls']) {
    const upstream = await server(({ socket }) => socket.write(`HTTP/1.0 200 OK\r\ncontent-type:${type}\r\n\r\n<html>`))
    await assert.rejects(open(`${upstream.origin}/`), {
      code: 'FST_ICECAST_RELAY_NOT_AUDIO', message: new RegExp(`^upstream ${upstream.origin}/: answered Content-Type ${type.replace('+', '\\+')}, (not an audio or video stream|a playlist)`)
    })
    await upstream.exchanges[0]!.closed
  }
  const twoTypes = await server(({ socket }) => socket.write('HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Type: image/svg+xml\r\n\r\n<svg>'))
  await assert.rejects(open(`${twoTypes.origin}/`), { message: /answered Content-Type audio\/mpeg, image\/svg\+xml, more than one media type$/ })
})

test('an answer with no Content-Type (old ICY servers) is taken', async () => {
  const upstream = await server(({ socket }) => socket.end('ICY 200 OK\r\nicy-name:old\r\n\r\nmp3'))
  const { body } = await collect(await open(`${upstream.origin}/`))
  assert.equal(body.toString(), 'mp3')
})

test('a garbage status line rejects with BadStatusLineError at once', async () => {
  const upstream = await server(({ socket }) => socket.write('SSH-2.0-OpenSSH_9.6\r\n'))
  const started = performance.now()
  await assert.rejects(open(`${upstream.origin}/`), { code: 'FST_ICECAST_RELAY_BAD_STATUS_LINE' })
  assert.ok(performance.now() - started < 500)
  await upstream.exchanges[0]!.closed
})

test('a 1 MB header rejects with HeadTooLargeError without waiting for it all', async () => {
  const upstream = await server(({ socket }) => {
    socket.write('HTTP/1.0 200 OK\r\nX-Big: ')
    socket.write(Buffer.alloc(1024 * 1024, 'a'))
  })
  const started = performance.now()
  await assert.rejects(open(`${upstream.origin}/`, { headLimit: 8192 }), {
    code: 'FST_ICECAST_RELAY_HEAD_TOO_LARGE', message: /exceeds 8192 bytes/
  })
  assert.ok(performance.now() - started < 500)
  await upstream.exchanges[0]!.closed
})

test('a server that never answers rejects with ConnectTimeoutError after connectTimeout', async () => {
  const upstream = await server(() => {})
  const started = performance.now()
  await assert.rejects(open(`${upstream.origin}/`, { connectTimeout: 200 }), {
    code: 'FST_ICECAST_RELAY_CONNECT_TIMEOUT', message: `upstream ${upstream.origin}/: no response head within 200 ms`
  })
  const elapsed = performance.now() - started
  assert.ok(elapsed >= 190 && elapsed < 600, `${elapsed} ms`)
  await upstream.exchanges[0]!.closed
})

test('connection refused rejects with ConnectError carrying the cause', async () => {
  const port = await closedPort()
  await assert.rejects(open(`http://127.0.0.1:${port}/`, { label: 'my-relay' }), (error: Error & { code: string, cause: { code: string } }) => {
    assert.equal(error.code, 'FST_ICECAST_RELAY_CONNECT_FAILED')
    assert.match(error.message, /^upstream my-relay: connection failed: .*ECONNREFUSED/)
    assert.equal(error.cause.code, 'ECONNREFUSED')
    return true
  })
})

test('a server closing before the end of the head rejects with ConnectError', async () => {
  const upstream = await server(({ socket }) => socket.end('HTTP/1.0 200 OK\r\nContent-Ty'))
  await assert.rejects(open(`${upstream.origin}/`), { code: 'FST_ICECAST_RELAY_CONNECT_FAILED', message: /closed before/ })
})

test('data that stops for sourceTimeout ends the stream with SourceTimeoutError; data resets the clock', async () => {
  const upstream = await server(async ({ socket }) => {
    socket.write(audioHead)
    for (let i = 0; i < 5; i++) {
      await sleep(80)
      socket.write('x')
    }
  })
  const connection = await open(`${upstream.origin}/`, { sourceTimeout: 200 })
  const started = performance.now()
  const { body, error, ends } = await collect(connection)
  assert.equal(body.toString(), 'xxxxx')
  assert.equal(error.code, 'FST_ICECAST_RELAY_SOURCE_TIMEOUT')
  assert.equal(error.message, `upstream ${upstream.origin}/: no data for 200 ms`)
  assert.equal(ends, 1)
  assert.ok(performance.now() - started >= 550)
  await upstream.exchanges[0]!.closed
})

test('a socket error mid-stream is passed to end as is', async () => {
  const upstream = await server(async ({ socket }) => {
    socket.write(audioHead + 'abc')
    await sleep(30)
    socket.resetAndDestroy()
  })
  const { body, error } = await collect(await open(`${upstream.origin}/`))
  assert.equal(body.toString(), 'abc')
  assert.equal(error.code, 'ECONNRESET')
})

test('an error while paused is told after the bytes that came with the head', async () => {
  const upstream = await server(async ({ socket }) => {
    socket.write(audioHead + 'abc')
    await sleep(10)
    socket.resetAndDestroy()
  })
  const connection = await open(`${upstream.origin}/`)
  await sleep(60)
  const { body, error, ends } = await collect(connection)
  assert.equal(body.toString(), 'abc')
  assert.equal(error.code, 'ECONNRESET')
  assert.equal(ends, 1)
})

test('close() ends silently and closes the socket, before or after start', async () => {
  const upstream = await server(({ socket }) => socket.write(audioHead + 'abc'))
  const started = await open(`${upstream.origin}/`)
  let ends = 0
  started.start({ data () {}, end () { ends++ } })
  started.close()
  await upstream.exchanges[0]!.closed
  const parked = await open(`${upstream.origin}/`)
  parked.close()
  parked.start({ data () { ends++ }, end () { ends++ } })
  await upstream.exchanges[1]!.closed
  await sleep(20)
  assert.equal(ends, 0)
  assert.throws(() => parked.start({ data () {}, end () {} }), { code: 'FST_ICECAST_RELAY_ALREADY_STARTED', message: /already started/ })
})

test('the abort signal rejects with its reason and closes the socket', async () => {
  const upstream = await server(() => {})
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 50)
  await assert.rejects(open(`${upstream.origin}/`, { signal: controller.signal }), { name: 'AbortError' })
  await upstream.exchanges[0]!.closed
  await assert.rejects(open(`${upstream.origin}/`, { signal: AbortSignal.abort(new Error('stopped')) }), /stopped/)
  assert.equal(upstream.exchanges.length, 1)
})

test('bad options reject: a non-http URL, a header value with a line break', async () => {
  await assert.rejects(open('ftp://127.0.0.1/'), { code: 'FST_ICECAST_RELAY_INVALID_OPTION', message: /ftp:/ })
  const upstream = await server(() => {})
  await assert.rejects(open(`${upstream.origin}/`, { headers: { 'X-A': 'a\r\nX-B: b' } }), TypeError)
  await assert.rejects(open(`${upstream.origin}/`, { headers: { 'X-A': 'a\r\nX-B: b' } }), { code: 'FST_ICECAST_RELAY_BAD_UPSTREAM_REQUEST' })
  assert.equal(upstream.exchanges.length, 0)
})

test('a private ca is trusted beside the system\'s roots, not instead of them (Node\'s ca replaces them)', () => {
  const ca = privateCa().cert
  const trusted = withSystemRoots(ca)
  assert.ok(rootCertificates.length > 50)
  assert.deepEqual(trusted, [...rootCertificates, ca])
  assert.deepEqual(withSystemRoots([ca, ca]).slice(-2), [ca, ca])
})
