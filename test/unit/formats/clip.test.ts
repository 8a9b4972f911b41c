import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { clipOf, type Clip } from '../../../lib/formats/clip.js'
import { OggReader } from '../../../lib/formats/ogg.js'
import { id3Tag, mp3Frames, vorbisStream, MP3_FRAME_BYTES } from '../../helpers/frames.js'
import { syntheticAdts } from '../../helpers/adts.js'
import { noise } from '../../helpers/scripted.js'

function clip (file: Buffer): Clip {
  const result = clipOf(file)
  assert.notEqual(typeof result, 'string', String(result))
  return result as Clip
}

test('an MP3 intro is cut from its first frame to its last whole one, whatever comes before and after', () => {
  // a cut frame with an ID3v1 tag after it is still less than a frame: no decoder could take it for one
  fc.assert(fc.property(fc.integer({ min: 3, max: 40 }), fc.nat(3000), fc.nat(MP3_FRAME_BYTES - 129), fc.boolean(), (count, tag, cutShort, id3v1) => {
    const frames = mp3Frames(count)
    const file = Buffer.concat([tag > 0 ? id3Tag(tag) : Buffer.alloc(0), frames, frames.subarray(0, cutShort), id3v1 ? Buffer.from('TAG'.padEnd(128, ' ')) : Buffer.alloc(0)])
    const result = clip(file)
    assert.equal(result.container, 'mpeg')
    assert.ok(result.bytes.equals(frames), 'the whole frames, and only them')
  }))
})

test('an AAC (ADTS) intro is its whole frames, an aac clip', () => {
  const frames = syntheticAdts(20)
  const result = clip(Buffer.concat([frames, frames.subarray(0, 50)]))
  assert.equal(result.container, 'aac')
  assert.ok(result.bytes.equals(frames))
})

test('an Ogg intro is its whole pages with its headers; a stream left open gets its EOS page', () => {
  const stream = vorbisStream(9, 20, 4410)
  const whole = clip(stream)
  assert.equal(whole.container, 'ogg')
  assert.ok(whole.bytes.equals(stream), 'a whole file is sent as it is')

  const lastPage = stream.lastIndexOf('OggS')
  const open = clip(Buffer.concat([stream.subarray(0, lastPage), stream.subarray(lastPage, lastPage + 30)]))
  assert.ok(open.bytes.subarray(0, lastPage).equals(stream.subarray(0, lastPage)), 'every whole page, the cut one left out')
  const eos = open.bytes.subarray(lastPage)
  assert.equal(eos.length, 27, 'one EOS page, no packet in it')
  assert.equal(eos[5]! & 0x04, 0x04)
  const pages: Buffer[] = []
  new OggReader({ chunk: (bytes) => pages.push(bytes), headers: () => {}, info: () => {}, tags: () => {}, corrupt: (reason) => assert.fail(reason) }).push(open.bytes)
  assert.ok(Buffer.concat(pages).equals(open.bytes), 'sound pages, CRCs right')
})

test('a file that is no audio, damaged or without a whole frame gives the reason', () => {
  assert.match(String(clipOf(noise(5000))), /no MP3, AAC \(ADTS\) or Ogg audio/)
  assert.match(String(clipOf(Buffer.alloc(0))), /no MP3/)
  assert.match(String(clipOf(mp3Frames(2))), /no MP3/, 'two frames are no believable run')
  const frames = mp3Frames(10)
  assert.match(String(clipOf(Buffer.concat([frames, noise(20000)]))), /^damaged: /, 'a long run of bytes that are no frames')
  const stream = vorbisStream(3, 10, 4410)
  const broken = Buffer.from(stream)
  broken[stream.lastIndexOf('OggS') - 10] ^= 0xff
  assert.match(String(clipOf(broken)), /^damaged: corrupt Ogg page/)
})
