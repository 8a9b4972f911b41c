// Real clients as judges: mpg123 decodes MP3 (and prints ICY titles), ogginfo checks Ogg.
import assert from 'node:assert/strict'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeTempDir, run, spawnTracked } from './procs.js'
import { parseStreamTitle } from './listen.js'
import { TRACK_TAGS } from './fixtures.js'

const ENV = { ...process.env, LC_ALL: 'C.UTF-8' }

let scratch: string | undefined
let seq = 0
/** Writes a Buffer to a temp file (removed at exit) and returns its path. */
export function writeTemp (data: Buffer, ext: string): string {
  scratch ??= makeTempDir('captures')
  const file = join(scratch, `capture-${++seq}.${ext.replace(/^\./, '')}`)
  writeFileSync(file, data)
  return file
}

export interface Mpg123Format {
  version: string
  layer: number
  /** e.g. 'cbr128' */
  bitrate: string
  rate: number
  /** 'stereo', 'j-s', 'dual', 'mono' */
  mode: string
  channels: number
}

export interface Mpg123Result {
  /** decoded something and reported no decoding problem */
  ok: boolean
  /** StreamTitle values of the `ICY-META:` lines, in order (mpg123 converts them to UTF-8) */
  titles: string[]
  icyName?: string
  format?: Mpg123Format
  /** bytes of 16-bit PCM decoded */
  pcmBytes: number
  /** decoded MPEG frames, from pcmBytes and the format (approximate if the format changed) */
  frames: number
  /** seconds of audio decoded */
  seconds: number
  /** lines about resyncs, illegal headers, skipped bytes, errors */
  problems: string[]
  exitCode: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

const PROBLEM = /error|illegal audio-mpeg-header|resync|skipped \d+ bytes|cannot|failed|giving up/i

/**
 * Decodes an MP3 file, Buffer, or http URL with mpg123 (`-s`, PCM counted, not played). For a URL the run
 * is stopped after `ms` (default 3000); for a file, when done (or after `ms`, default 30000).
 * `icy: false` passes --no-icy-meta. Gapless trimming is off so frames count as received. `env`: more
 * environment (for the curl or wget mpg123 runs for an https URL, e.g. CURL_CA_BUNDLE).
 */
export async function runMpg123 (input: string | Buffer, { ms, icy = true, args = [], env = {} }:
{ ms?: number, icy?: boolean, args?: string[], env?: NodeJS.ProcessEnv } = {}): Promise<Mpg123Result> {
  const src = Buffer.isBuffer(input) ? writeTemp(input, 'mp3') : input
  const isUrl = /^https?:\/\//.test(src)
  const limit = ms ?? (isUrl ? 3000 : 30000)
  const argv = ['-s', '--no-gapless', ...(icy ? [] : ['--no-icy-meta']), ...args, src]
  const p = spawnTracked('mpg123', argv, { env: { ...ENV, ...env }, keepAlive: true, capture: false })
  let pcmBytes = 0
  let stderr = ''
  // count the PCM without keeping it
  p.child.stdout?.on('data', (d: Buffer) => { pcmBytes += d.length })
  p.child.stderr?.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
  const closed = new Promise((resolve) => p.child.once('close', resolve)) // stdio drained
  const timer = setTimeout(() => { p.stop({ graceMs: 1000 }).catch(() => {}) }, limit)
  const { code, signal } = await p.exited
  clearTimeout(timer)
  await closed

  const lines = stderr.split(/\r?\n|\r/)
  const titles: string[] = []
  let icyName: string | undefined
  let format: Mpg123Format | undefined
  const problems: string[] = []
  for (const line of lines) {
    if (line.startsWith('ICY-META: ')) {
      const t = parseStreamTitle(line.slice('ICY-META: '.length))
      if (t !== undefined) titles.push(t)
      continue
    }
    if (line.startsWith('ICY-NAME: ')) { icyName = line.slice('ICY-NAME: '.length); continue }
    const f = /^MPEG (\S+) L (I+) (\S+) (\d+) (\S+)/.exec(line)
    if (f && !format) {
      format = {
        version: f[1],
        layer: f[2].length,
        bitrate: f[3],
        rate: Number(f[4]),
        mode: f[5],
        channels: f[5] === 'mono' ? 1 : 2
      }
      continue
    }
    if (PROBLEM.test(line)) problems.push(line.trim())
  }
  const channels = format?.channels ?? 2
  const samplesPerFrame = format === undefined
    ? 1152
    : format.layer === 1 ? 384 : format.layer === 2 || format.version === '1.0' ? 1152 : 576
  const samples = pcmBytes / (2 * channels)
  const stoppedByUs = signal === 'SIGTERM' || signal === 'SIGKILL'
  return {
    ok: (code === 0 || stoppedByUs) && pcmBytes > 0 && problems.length === 0,
    titles,
    icyName,
    format,
    pcmBytes,
    frames: Math.round(samples / samplesPerFrame),
    seconds: format ? samples / format.rate : 0,
    problems,
    exitCode: code,
    signal,
    stderr
  }
}

/** mpg123 plays `url` for 5 s: clean MP3, more than 2 s of it, and ICY titles of the fixture tracks (`path`: how it came). */
export async function assertPlaysTracks (url: string, path: string): Promise<void> {
  const decoded = await runMpg123(url, { ms: 5000 })
  assert.ok(decoded.ok, decoded.problems.join('\n') + decoded.stderr)
  assert.ok(decoded.seconds > 2, `decoded ${decoded.seconds} s`)
  const known = new Set(TRACK_TAGS.map((tag) => tag.title))
  assert.ok(decoded.titles.some((title) => known.has(title)), `titles ${path}: ${JSON.stringify(decoded.titles)}`)
}

export interface OggStreamInfo {
  serial: string
  /** 'vorbis', 'Opus', 'invalid', ... as ogginfo names it */
  type: string
  /** 'key=value' comment lines */
  comments: string[]
}

export interface OgginfoResult {
  /** no errors, and no warnings except the tolerated ones */
  ok: boolean
  exitCode: number | null
  output: string
  warnings: string[]
  errors: string[]
  streams: OggStreamInfo[]
}

/**
 * Runs ogginfo on a file or Buffer. A capture of a live stream always ends inside its last logical stream,
 * so by default `EOS not set on stream N` for the last stream is tolerated; `allow` adds more patterns.
 * `allowMidStreamJoin` also tolerates the page-sequence gap in the first logical stream that a listener
 * joining mid-track sees from Icecast (header pages, then pages from the middle of the stream).
 */
export async function runOgginfo (input: string | Buffer, { allowTruncatedEnd = true, allowMidStreamJoin = false, allow = [] }:
{ allowTruncatedEnd?: boolean, allowMidStreamJoin?: boolean, allow?: RegExp[] } = {}): Promise<OgginfoResult> {
  const file = Buffer.isBuffer(input) ? writeTemp(input, 'ogg') : input
  const r = await run('ogginfo', [file], { env: ENV, timeoutMs: 30000 })
  const output = r.stdout.toString('utf8') + r.stderr
  const streams: OggStreamInfo[] = []
  const warnings: string[] = []
  const errors: string[] = []
  let inComments = false
  for (const line of output.split('\n')) {
    const s = /^New logical stream \(#\d+, serial: ([0-9a-f]+)\): type (\S+)/.exec(line)
    if (s) { streams.push({ serial: s[1], type: s[2], comments: [] }); inComments = false; continue }
    if (line.startsWith('User comments section follows')) { inComments = true; continue }
    if (inComments && line.startsWith('\t') && line.includes('=')) {
      streams[streams.length - 1]?.comments.push(line.slice(1))
      continue
    }
    inComments = false
    if (line.startsWith('WARNING')) warnings.push(line.trim())
    else if (line.startsWith('ERROR')) errors.push(line.trim())
  }
  const lastIndex = streams.length
  const bad = warnings.filter((w) => {
    if (allow.some((re) => re.test(w))) return false
    if (allowMidStreamJoin && /^WARNING: (sequence number gap in stream 1\.|discontinuity in stream \(1\))/.test(w)) return false
    if (allowTruncatedEnd && new RegExp(`^WARNING: EOS not set on stream ${lastIndex}$`).test(w)) return false
    return true
  })
  return { ok: streams.length > 0 && errors.length === 0 && bad.length === 0, exitCode: r.code, output, warnings, errors, streams }
}

/** Writes a Buffer where user nobody can read it (VLC refuses to run as root), and returns its path. */
function writeReadable (data: Buffer, ext: string): string {
  const dir = makeTempDir('readable')
  chmodSync(dir, 0o755)
  const file = join(dir, `capture.${ext}`)
  writeFileSync(file, data, { mode: 0o644 })
  chmodSync(file, 0o644)
  return file
}

export interface FfmpegResult {
  exitCode: number | null
  /** what `ffmpeg -v error` printed, line by line */
  errors: string[]
}

/**
 * Decodes a file or Buffer with ffmpeg to nothing (`-f null`), at `-v error`, reading it as a player reads
 * a live stream: from a pipe. (Given a seekable file of chained Ogg streams, ffmpeg 5.1 probes its end for
 * the duration and reports "failed to create or replace stream" when the last 64 KB hold no BOS page:
 * Icecast's own output alike.)
 */
export async function runFfmpegDecode (input: string | Buffer): Promise<FfmpegResult> {
  const file = Buffer.isBuffer(input) ? writeTemp(input, 'ogg') : input
  const r = await run('sh', ['-c', 'exec ffmpeg -nostdin -hide_banner -v error -i pipe:0 -f null - < "$0"', file], { env: ENV, timeoutMs: 60000 })
  return { exitCode: r.code, errors: r.stderr.split('\n').map((line) => line.trim()).filter((line) => line !== '') }
}

export interface VlcResult {
  /** exited by itself at the end of the file, having found a codec header, with no problem logged */
  ok: boolean
  exitCode: number | null
  /** error and warning lines of VLC's demuxer, decoders and audio output (`Broken Ogg stream (serialno) mismatch`, `buffer too late`...) */
  problems: string[]
  /** codec headers VLC's Ogg demuxer found (`found vorbis header`...), one per logical stream it started */
  headers: number
  log: string
}

/** VLC lines that say nothing about the stream: no desktop session, no home directory for user nobody. */
const VLC_ENVIRONMENT = /^(main (interface|libvlc|playlist)|dbus interface|[\w ]*(interface|lua)) (error|warning):/
/** the demuxer's advice on its own read-ahead, and the end of the file */
const VLC_BENIGN = /Consider increasing access caching|couldn't find any ogg logical stream/

/**
 * Plays a file or Buffer with VLC (`cvlc`, dummy audio output, in real time) as user nobody: VLC refuses
 * to run as root. The file is played to its end (`--play-and-exit`), or stopped after `timeoutMs`.
 */
export async function runVlc (input: string | Buffer, { timeoutMs = 60000 } = {}): Promise<VlcResult> {
  const file = Buffer.isBuffer(input) ? writeReadable(input, 'ogg') : input
  const vlc = ['timeout', String(Math.ceil(timeoutMs / 1000)), 'cvlc', '-vv', '--play-and-exit', '--aout=dummy', '--no-dbus', file]
  const argv = process.getuid?.() === 0 ? ['runuser', '-u', 'nobody', '--', 'env', 'HOME=/tmp', ...vlc] : vlc
  const r = await run(argv[0]!, argv.slice(1), { env: ENV, timeoutMs: timeoutMs + 5000 })
  const log = r.stdout.toString('utf8') + r.stderr
  const lines = log.split('\n').map((line) => line.replace(/^\[[0-9a-f]+\] /, '').trim())
  const problems = lines.filter((line) => / (error|warning):/.test(line) && !VLC_ENVIRONMENT.test(line) && !VLC_BENIGN.test(line))
  const headers = lines.filter((line) => /^ogg demux debug: found \w+ header/.test(line)).length
  return { ok: r.code === 0 && headers > 0 && problems.length === 0, exitCode: r.code, problems, headers, log }
}
