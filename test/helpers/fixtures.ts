// Audio fixtures of our own: sox-synthesised tones + quiet pink noise, encoded with lame / oggenc / opusenc,
// tagged with titles and artists. Generated once per process into a temp dir (~1 s).
import { join } from 'node:path'
import { makeTempDir, runOk } from './procs.js'
import { assertTools } from './tools.js'

export interface Track {
  file: string
  title: string
  artist: string
  /** duration of the audio, in seconds */
  seconds: number
}

export interface FormatFixtures {
  /** short tracks (SHORT_SECONDS each) with distinct tags, in TRACK_TAGS order */
  tracks: Track[]
  /** one LONG_SECONDS track, for streams that must run for a while */
  long: Track
}

export interface Fixtures {
  dir: string
  /** MPEG-1 Layer III, CBR 128 kbit/s, 44.1 kHz, joint stereo, ID3v2 tags (UTF-16); lame's Info frame first */
  mp3: FormatFixtures
  /** Ogg Vorbis (oggenc -q 3, 44.1 kHz stereo), title/artist comments */
  vorbis: FormatFixtures
  /** Ogg Opus (opusenc 96 kbit/s, 48 kHz stereo), title/artist OpusTags */
  opus: FormatFixtures
  /** the PCM the short tracks were made from (16-bit 44.1 kHz stereo WAV) */
  wav: string[]
}

export const SHORT_SECONDS = 3
export const LONG_SECONDS = 40

/**
 * The tags of the short tracks, same for every format. The second has a quote and a semicolon (ICY quoting);
 * the third is not ASCII but fits ISO-8859-1, which Icecast converts MP3 metadata to for ICY blocks.
 */
export const TRACK_TAGS: ReadonlyArray<{ title: string, artist: string }> = [
  { title: 'Track One', artist: 'Artist A' },
  { title: "Track Two's; Title", artist: 'Artist B' },
  { title: 'Café Ünïcode', artist: 'Artist C' }
]
export const LONG_TAGS = { title: 'Long Track', artist: 'Artist L' }

const FREQS = [440, 554, 659]

// lame/oggenc/opusenc read tag arguments in the locale's charset: in a C locale lame cuts 'Café' to 'Caf'
const ENV = { ...process.env, LC_ALL: 'C.UTF-8' }

let pending: Promise<Fixtures> | undefined

/** Generates (once per process) and returns the fixture paths. */
export async function makeFixtures (): Promise<Fixtures> {
  pending ??= generate()
  return await pending
}

async function synth (file: string, seconds: number, freqs: number[]): Promise<void> {
  // two sines (one per channel) at -6 dB mixed with pink noise at about -22 dB: stereo, and enough
  // entropy that VBR codecs produce realistic bitrates (a pure sine gives Vorbis ~20 kbit/s)
  await runOk('sox', [
    '-m',
    '-v', '0.5', `|sox -n -r 44100 -c 2 -p synth ${seconds} sine ${freqs[0]} sine ${freqs[1]}`,
    '-v', '0.08', `|sox -n -r 44100 -c 2 -p synth ${seconds} pinknoise`,
    '-r', '44100', '-c', '2', '-b', '16', file
  ], { env: ENV })
}

async function encodeAll (wav: string, base: string, tags: { title: string, artist: string }): Promise<[string, string, string]> {
  const mp3 = `${base}.mp3`
  const ogg = `${base}.ogg`
  const opus = `${base}.opus`
  await Promise.all([
    runOk('lame', ['--quiet', '--cbr', '-b', '128', '--resample', '44.1', '-q', '7', '--id3v2-only', '--id3v2-utf16',
      '--tt', tags.title, '--ta', tags.artist, wav, mp3], { env: ENV }),
    runOk('oggenc', ['-Q', '-q', '3', '-t', tags.title, '-a', tags.artist, '-o', ogg, wav], { env: ENV }),
    runOk('opusenc', ['--quiet', '--bitrate', '96', '--title', tags.title, '--artist', tags.artist, wav, opus], { env: ENV })
  ])
  return [mp3, ogg, opus]
}

async function generate (): Promise<Fixtures> {
  assertTools('sox', 'lame', 'oggenc', 'opusenc')
  const dir = makeTempDir('fixtures')
  const specs = [
    ...TRACK_TAGS.map((tags, i) => ({ name: `track${i + 1}`, tags, seconds: SHORT_SECONDS, freqs: [FREQS[i], FREQS[i] * 1.5] })),
    { name: 'long', tags: LONG_TAGS, seconds: LONG_SECONDS, freqs: [330, 495] }
  ]
  const made = await Promise.all(specs.map(async (s) => {
    const wav = join(dir, `${s.name}.wav`)
    await synth(wav, s.seconds, s.freqs)
    const [mp3, ogg, opus] = await encodeAll(wav, join(dir, s.name), s.tags)
    const t = (file: string): Track => ({ file, title: s.tags.title, artist: s.tags.artist, seconds: s.seconds })
    return { wav, mp3: t(mp3), ogg: t(ogg), opus: t(opus) }
  }))
  const short = made.slice(0, TRACK_TAGS.length)
  const long = made[made.length - 1]
  return {
    dir,
    mp3: { tracks: short.map((m) => m.mp3), long: long.mp3 },
    vorbis: { tracks: short.map((m) => m.ogg), long: long.ogg },
    opus: { tracks: short.map((m) => m.opus), long: long.opus },
    wav: short.map((m) => m.wav)
  }
}
