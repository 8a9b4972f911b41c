// Pure figures: summaries of samples and the latency of a relay's listeners behind the master.
import { findFrameRun, frameHeader } from '../lib/formats/mpeg.js'

export interface Summary {
  count: number
  min: number
  p50: number
  p99: number
  max: number
  mean: number
}

/** `n` split into `parts` shares that differ by one at most. */
export function shares (n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0))
}

/** Nearest-rank percentile of sorted values. */
function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))]!
}

export function summarize (values: number[]): Summary {
  if (values.length === 0) return { count: 0, min: Number.NaN, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN }
  const sorted = [...values].sort((a, b) => a - b)
  return {
    count: sorted.length,
    min: sorted[0]!,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((sum, v) => sum + v, 0) / sorted.length
  }
}

/** A listener's audio as it arrived: chunk i holds the bytes up to offset ends[i], read at times[i] (ms). */
export interface Recording {
  times: number[]
  ends: number[]
  chunks: Buffer[]
}

/** The time the byte at `offset` arrived. */
function arrivalOf (rec: Recording, offset: number): number {
  let lo = 0
  let hi = rec.ends.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (rec.ends[mid]! > offset) hi = mid
    else lo = mid + 1
  }
  return rec.times[lo]!
}

/** Bytes that identify a place in the stream: MP3 frames of noisy audio never repeat within the loop. */
const PROBE_BYTES = 64

/** Offsets just past each whole MPEG frame of `audio` (where a player can decode up to). */
function frameEnds (audio: Buffer): number[] {
  const ends: number[] = []
  const resync = (from: number): number | undefined => {
    const search = findFrameRun(audio, from)
    return 'found' in search ? search.found : undefined
  }
  let at = resync(0)
  while (at !== undefined) {
    const header = frameHeader(audio, at)
    if (header === undefined) {
      at = resync(at + 1)
    } else if (at + header.length > audio.length) {
      break
    } else {
      at += header.length
      ends.push(at)
    }
  }
  return ends
}

/**
 * Where `probe` ends in `audio`: at the offset predicted from the previous match when the bytes are
 * there, else the occurrence read closest to `near` (the source loops a file, so a probe recurs).
 */
function findProbe (audio: Buffer, rec: Recording, probe: Buffer, predicted: number, near: number): number | undefined {
  const at = predicted - PROBE_BYTES + 1
  if (at >= 0 && audio.subarray(at, at + PROBE_BYTES).equals(probe)) return predicted
  let best: number | undefined
  for (let i = audio.indexOf(probe); i !== -1; i = audio.indexOf(probe, i + 1)) {
    const end = i + PROBE_BYTES - 1
    if (best === undefined || Math.abs(arrivalOf(rec, end) - near) < Math.abs(arrivalOf(rec, best) - near)) best = end
  }
  return best
}

/**
 * The last byte of the last whole frame in each chunk the reference listener (a plain listener of the
 * master) read within [from, to − 2 s], with the time it read it. A frame is what a player decodes, so
 * a frame's last byte is when its audio can be heard.
 */
function probePoints (reference: Recording, audio: Buffer, from: number, to: number): Array<{ end: number, time: number }> {
  const points: Array<{ end: number, time: number }> = []
  const ends = frameEnds(audio)
  let f = 0
  for (const [i, time] of reference.times.entries()) {
    const chunkStart = reference.ends[i - 1] ?? 0
    const chunkEnd = reference.ends[i]!
    while (f + 1 < ends.length && ends[f + 1]! <= chunkEnd) f++
    const frameEnd = ends[f]
    if (time < from || time > to - 2000 || frameEnd === undefined || frameEnd <= chunkStart || frameEnd > chunkEnd || frameEnd < PROBE_BYTES) continue
    points.push({ end: frameEnd - 1, time })
  }
  return points
}

/**
 * The added latency of each sampled listener behind the master, in ms, per frame, one list per sample in
 * the order of `samples`: the time a sampled listener read the last byte of a frame minus the time the
 * reference listener read it, the frame found by its last PROBE_BYTES bytes. Both streams are the
 * upstream's audio with ICY blocks removed, which every relay passes on unchanged.
 */
export function latenciesBySample (reference: Recording, samples: Recording[], from: number, to: number): number[][] {
  const refAudio = Buffer.concat(reference.chunks)
  const points = probePoints(reference, refAudio, from, to)
  return samples.map((rec) => {
    const audio = Buffer.concat(rec.chunks)
    const out: number[] = []
    let delta = 0
    for (const { end, time } of points) {
      const probe = refAudio.subarray(end + 1 - PROBE_BYTES, end + 1)
      const found = findProbe(audio, rec, probe, end + delta, time)
      if (found === undefined) continue
      delta = found - end
      out.push(arrivalOf(rec, found) - time)
    }
    return out
  })
}

/**
 * The samples join in turn as the crowd comes in, so their order is about their place in the relay's
 * order of writes: the median latency of the first and of the last sample tell the wait before a round
 * of writes begins (gathering, the upstream read, the sample's own read) from the round's length.
 */
export function roundSpread (bySampleP50: readonly number[]): { first: number, last: number, round: number } | undefined {
  const measured = bySampleP50.filter((p50) => !Number.isNaN(p50))
  if (measured.length < 2) return undefined
  const first = measured[0]!
  const last = measured[measured.length - 1]!
  return { first, last, round: last - first }
}

/** How many of `ms` are at most 1000, 2000, … up to the second that holds the largest (none for none). */
export function countBySecond (ms: number[]): number[] {
  const seconds = ms.length === 0 ? 0 : Math.max(1, Math.ceil(Math.max(...ms) / 1000))
  return Array.from({ length: seconds }, (_, i) => ms.filter((v) => v <= (i + 1) * 1000).length)
}
