// ffprobe (Debian's `ffmpeg`) as an HLS client: reads a playlist for a while, decoding every frame, and
// says whether the audio decoded cleanly and its timestamps ran on without a jump across segments.
import { run } from './procs.js'
import { assertTools } from './tools.js'

/** ffmpeg 5.1's HLS demuxer reads the first ID3 tag of a packed-audio stream and ignores later changes, with this notice. */
const ID3_CHANGE_NOTICE = /Changing ID3 metadata in HLS audio elementary stream is not implemented/

export interface HlsProbe {
  codec: string
  sampleRate: number
  /** the stream's tags: the first ID3 tag ffmpeg read (title: its TIT2) */
  tags: Record<string, string>
  /** packets read, and frames decoded from them */
  packets: number
  frames: number
  /** seconds of audio read (the last packet's end minus the first's start) */
  seconds: number
  /** packets that did not start where the one before ended (more than 1 ms off): which (`at`), and by how much */
  jumps: Array<{ at: number, seconds: number }>
  /** ffprobe's warnings and errors, the ID3 notice left out: a decoder's complaint shows here */
  problems: string[]
  /** ffmpeg noticed the ID3 tag change (a title change) after the first */
  id3Changed: boolean
}

interface Entry { type: 'packet' | 'frame', pts?: number, duration?: number }

/** `(next.pts - (pts + duration))` in seconds for each packet that the one before does not end at (1 ms slack). */
export function timestampJumps (packets: Array<{ pts: number, duration: number }>, timeBase: number): HlsProbe['jumps'] {
  const jumps: HlsProbe['jumps'] = []
  for (let i = 1; i < packets.length; i++) {
    const gap = (packets[i].pts - (packets[i - 1].pts + packets[i - 1].duration)) * timeBase
    if (Math.abs(gap) > 0.001) jumps.push({ at: i, seconds: gap })
  }
  return jumps
}

/**
 * Reads `seconds` of audio from the HLS playlist at `url` (a live one in real time) with ffprobe, decoding
 * it. `-probesize 32`: with its default, ffmpeg 5.1 buffers the whole first segment while probing and stamps
 * its packets with the next segment's ID3 timestamp, a jump of one segment that is its own.
 */
export async function probeHls (url: string, { seconds, timeoutMs = (seconds + 60) * 1000 }: { seconds: number, timeoutMs?: number }): Promise<HlsProbe> {
  assertTools('ffprobe')
  const r = await run('ffprobe', ['-v', 'warning', '-probesize', '32', '-rw_timeout', '15000000', '-read_intervals', `%+${seconds}`,
    '-show_entries', 'packet=pts,duration:frame=pts:stream=codec_name,sample_rate,time_base:stream_tags', '-of', 'json', url], { timeoutMs })
  if (r.code !== 0) throw new Error(`ffprobe ${url}: code ${r.code}, signal ${r.signal}\n${r.stderr}`)
  const out = JSON.parse(r.stdout.toString('utf8')) as {
    streams: Array<{ codec_name: string, sample_rate: string, time_base: string, tags?: Record<string, string> }>
    packets_and_frames?: Entry[]
  }
  if (out.streams.length !== 1) throw new Error(`ffprobe ${url}: ${out.streams.length} streams, expected one audio stream`)
  const stream = out.streams[0]
  const [num, den] = stream.time_base.split('/').map(Number)
  const entries = out.packets_and_frames ?? []
  const packets = entries.filter((e): e is Required<Entry> => e.type === 'packet' && e.pts !== undefined && e.duration !== undefined)
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  const last = packets.at(-1)
  return {
    codec: stream.codec_name,
    sampleRate: Number(stream.sample_rate),
    tags: stream.tags ?? {},
    packets: packets.length,
    frames: entries.filter((e) => e.type === 'frame').length,
    seconds: last === undefined ? 0 : (last.pts + last.duration - packets[0].pts) * num / den,
    jumps: timestampJumps(packets, num / den),
    problems: lines.filter((l) => !ID3_CHANGE_NOTICE.test(l)),
    id3Changed: lines.some((l) => ID3_CHANGE_NOTICE.test(l))
  }
}

/**
 * The timeline of consecutive segments as ffprobe reads each alone: the PRIV timestamp of each must be where
 * the packets of the one before end (1 ms slack). Reading each segment alone is what makes this a check of
 * the segments with MP3: ffmpeg 5.1's HLS demuxer applies each segment's timestamp a packet or two early or
 * late to MP3 (its mp3 demuxer reads ahead), jumps of ±1-2 frames that exactly stamped segments get too.
 */
export async function segmentTimeline (urls: string[]): Promise<HlsProbe['jumps']> {
  assertTools('ffprobe')
  const segments = await Promise.all(urls.map(async (url) => {
    const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=duration_time:format_tags', '-of', 'json', url], { timeoutMs: 15000 })
    if (r.code !== 0) throw new Error(`ffprobe ${url}: code ${r.code}\n${r.stderr}`)
    const out = JSON.parse(r.stdout.toString('utf8')) as { packets?: Array<{ duration_time: string }>, format?: { tags?: Record<string, string> } }
    const priv = out.format?.tags?.['id3v2_priv.com.apple.streaming.transportStreamTimestamp']
    if (priv === undefined) throw new Error(`${url}: no transportStreamTimestamp PRIV frame at its head`)
    // ffprobe writes the 8 bytes as \xNN escapes
    const ticks = Buffer.from(priv.replace(/\\x([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').readBigUInt64BE()
    return { start: Number(ticks) / 90000, seconds: (out.packets ?? []).reduce((sum, p) => sum + Number(p.duration_time), 0) }
  }))
  const jumps: HlsProbe['jumps'] = []
  for (let i = 1; i < segments.length; i++) {
    const gap = segments[i].start - (segments[i - 1].start + segments[i - 1].seconds)
    if (Math.abs(gap) > 0.001) jumps.push({ at: i, seconds: gap })
  }
  return jumps
}

/** The ID3 tags at the head of one segment, as ffprobe reads them (title: TIT2; the PRIV timestamp, escaped). */
export async function segmentTags (url: string): Promise<Record<string, string>> {
  assertTools('ffprobe')
  const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'format_tags', '-of', 'json', url], { timeoutMs: 15000 })
  if (r.code !== 0) throw new Error(`ffprobe ${url}: code ${r.code}\n${r.stderr}`)
  return (JSON.parse(r.stdout.toString('utf8')) as { format?: { tags?: Record<string, string> } }).format?.tags ?? {}
}

/** One segment file decoded by ffprobe: its packets, the frames decoded from them, and its errors (a decoder's "Header missing"). */
export async function segmentFrames (file: string): Promise<{ packets: number, frames: number, problems: string[] }> {
  assertTools('ffprobe')
  const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=pts:frame=pts', '-of', 'json', file], { timeoutMs: 15000 })
  if (r.code !== 0) throw new Error(`ffprobe ${file}: code ${r.code}\n${r.stderr}`)
  const entries = (JSON.parse(r.stdout.toString('utf8')) as { packets_and_frames?: Entry[] }).packets_and_frames ?? []
  return {
    packets: entries.filter((e) => e.type === 'packet').length,
    frames: entries.filter((e) => e.type === 'frame').length,
    problems: r.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  }
}
