import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fresh from 'fresh'
import rangeParser from 'range-parser'

/** What a client's copy of a resource is checked against. */
export interface Validators {
  etag: string
  /** ms since the epoch: the Last-Modified sent (whole seconds) */
  lastModified: number
  /**
   * ms since the epoch, whole seconds: the earliest If-Modified-Since date that proves a copy current. Last-Modified
   * has whole seconds, so a resource changed twice within one second needs a date past that second.
   */
  currentFrom: number
}

const SECOND = 1000

function wholeSecond (ms: number): number {
  return Math.floor(ms / SECOND) * SECOND
}

export function httpDate (ms: number): string {
  return new Date(ms).toUTCString()
}

/** The validators of a segment cut at `createdAt`: its bytes never change under its ETag. */
export function segmentValidators (etag: string, createdAt: number): Validators {
  return { etag, lastModified: createdAt, currentFrom: wholeSecond(createdAt) }
}

/**
 * The validators of a media playlist, which changes at each cut (`cuts`: when each segment of its window was
 * cut, oldest first). A copy dated the second of the last cut is current only if no other cut was made in that
 * second; one before it in the window (or none: the cuts before may have left it) may have been the copy's.
 */
export function playlistValidators (etag: string, cuts: readonly number[]): Validators {
  const newest = wholeSecond(cuts.at(-1)!)
  const before = cuts.at(-2)
  const alone = before !== undefined && wholeSecond(before) < newest
  return { etag, lastModified: newest, currentFrom: alone ? newest : newest + SECOND }
}

/**
 * Whether the client's copy is current (RFC 9110 §13.1.2, §13.1.3): If-None-Match (`*`, a list, weak comparison)
 * when it is sent, else If-Modified-Since against `currentFrom`. `fresh` (jshttp, as Express's) compares them; it
 * is not shown the request's Cache-Control, whose `no-cache` it takes for "never 304", though `fetch` adds it to
 * every conditional request and it asks caches (not the origin) to revalidate (RFC 9111 §5.2.1.4).
 */
export function notModified (headers: IncomingHttpHeaders, validators: Validators): boolean {
  const conditions = { 'if-none-match': headers['if-none-match'], 'if-modified-since': headers['if-modified-since'] }
  return fresh(conditions, { etag: validators.etag, 'last-modified': httpDate(validators.currentFrom) })
}

/** What part of a body of `size` bytes a request asks for. */
export type RangeAnswer = { whole: true } | { unsatisfiable: true } | { start: number, end: number }

/** Whether an If-Range (RFC 9110 §13.1.5) still names the resource: its strong ETag or its exact date. */
function rangeStillValid (ifRange: string | string[] | undefined, validators: Validators): boolean {
  if (ifRange === undefined) return true
  if (typeof ifRange !== 'string') return false
  if (ifRange.startsWith('"')) return ifRange === validators.etag
  return Date.parse(ifRange) === wholeSecond(validators.lastModified)
}

/**
 * The one byte range a request asks of a body of `size` bytes (RFC 9110 §14). A Range that is malformed, not
 * in bytes, of several ranges (a multipart answer no player asks of a segment), or one whose If-Range names
 * another version gets the whole body, as the RFC lets a server answer.
 */
export function rangeOf (headers: IncomingHttpHeaders, size: number, validators: Validators): RangeAnswer {
  const range = headers.range
  if (range === undefined || !rangeStillValid(headers['if-range'], validators)) return { whole: true }
  const ranges = rangeParser(size, range, { combine: true })
  if (ranges === -1) return { unsatisfiable: true }
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return { whole: true }
  return ranges[0]!
}

/** The validators on the answer; true when the client's copy is current (the answer is then a 304). */
function answeredCurrent (request: FastifyRequest, reply: FastifyReply, validators: Validators): boolean {
  reply.header('etag', validators.etag).header('last-modified', httpDate(validators.lastModified))
  if (!notModified(request.headers, validators)) return false
  reply.code(304).send()
  return true
}

/** A body sent with its validators, or a 304 when the client has it. */
export function sendCached (request: FastifyRequest, reply: FastifyReply, body: string, validators: Validators): FastifyReply {
  return answeredCurrent(request, reply, validators) ? reply : reply.send(body)
}

/** Bytes sent with their validators, a 304 when the client has them, or the one range it asks (Safari asks). */
export function sendCachedBytes (request: FastifyRequest, reply: FastifyReply, data: Buffer, validators: Validators): FastifyReply {
  reply.header('accept-ranges', 'bytes')
  if (answeredCurrent(request, reply, validators)) return reply
  const range = rangeOf(request.headers, data.length, validators)
  if ('whole' in range) return reply.send(data)
  if ('unsatisfiable' in range) return reply.code(416).header('cache-control', 'no-store').header('content-range', `bytes */${data.length}`).send()
  return reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${data.length}`).send(data.subarray(range.start, range.end + 1))
}
