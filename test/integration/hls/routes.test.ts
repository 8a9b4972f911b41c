import assert from 'node:assert/strict'
import { test } from 'node:test'
import { scriptedRelay } from '../../helpers/app.js'
import { mp3Frames, MP3_FRAME_BYTES } from '../../helpers/frames.js'

const HLS = { segmentSeconds: 1, windowSegments: 3 }

/** The media playlist URL a multivariant playlist names. */
function variantOf (body: string): string {
  const uri = body.split('\n').find((line) => line !== '' && !line.startsWith('#'))
  assert.ok(uri !== undefined, body)
  return uri
}

test('an MP3 mount: index.m3u8 names a session playlist whose segments start with the timestamp ID3', async (t) => {
  const { url, upstream } = await scriptedRelay(t, '/live', { plugin: { hls: HLS } })
  await upstream.waitForClients(1)
  upstream.push(mp3Frames(200))
  let main: Response
  for (;;) {
    main = await fetch(url('/live/index.m3u8'))
    if (main.status !== 503) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.equal(main.status, 200)
  assert.equal(main.headers.get('content-type'), 'application/vnd.apple.mpegurl')
  assert.equal(main.headers.get('access-control-allow-origin'), '*')
  const body = await main.text()
  assert.match(body, /^#EXTM3U\n/)
  assert.match(body, /CODECS="mp4a\.40\.34"/)
  const variant = variantOf(body)
  assert.match(variant, /^index\.m3u8\?session=[A-Za-z0-9_-]{16}$/)
  const media = await fetch(url('/live/' + variant))
  assert.equal(media.status, 200)
  const playlist = await media.text()
  assert.match(playlist, /#EXT-X-TARGETDURATION:1\n/)
  const first = variantOf(playlist)
  assert.match(first, /^\d+\.mp3$/)
  const segment = await fetch(url('/live/' + first))
  assert.equal(segment.status, 200)
  assert.equal(segment.headers.get('content-type'), 'audio/mpeg')
  const bytes = Buffer.from(await segment.arrayBuffer())
  assert.equal(bytes.toString('latin1', 0, 3), 'ID3')
  const tagEnd = 10 + ((bytes[6]! << 21) | (bytes[7]! << 14) | (bytes[8]! << 7) | bytes[9]!)
  assert.equal(bytes[tagEnd], 0xff)
  assert.equal((bytes.length - tagEnd) % MP3_FRAME_BYTES, 0)
})
