// Local files the relay reads: opened without blocking, and the ones it reads again as they change (an intro,
// an htpasswd file) looked at with a stat, read only when that says they changed.
import { constants, type Stats } from 'node:fs'
import { open, stat } from 'node:fs/promises'

/**
 * Not blocking on open: a FIFO with no writer would otherwise hold the open (and one of libuv's few pool
 * threads) forever, where a regular-file check after it refuses it at once. No effect on a regular file.
 */
export const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)

/** Why a file gives no bytes to use: it is no regular file (a directory, a FIFO), or it is over the limit. */
export type FileProblem = 'not a regular file' | 'too large'

/** A file as read now: its version (what tells it changed), and its bytes or why there are none. */
export type FileLook = { version: string, bytes: Buffer } | { version: string, problem: FileProblem }

const READ_SIZE = 65536

function versionOf (stats: Pick<Stats, 'ino' | 'size' | 'mtimeMs'>): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}`
}

/**
 * The file at `path` unless its version is still `known` (then undefined, after a stat only): its bytes, at most
 * `maxBytes` of them (counted again as they are read: the file may have grown since its stat), or its
 * problem. Rejects with the system's error when it cannot be looked at or read.
 */
export async function lookAtFile (path: string, maxBytes: number, known: string | undefined): Promise<FileLook | undefined> {
  if (known !== undefined && versionOf(await stat(path)) === known) return undefined
  const handle = await open(path, OPEN_FLAGS)
  try {
    const stats = await handle.stat()
    const version = versionOf(stats)
    if (!stats.isFile()) return { version, problem: 'not a regular file' }
    if (stats.size > maxBytes) return { version, problem: 'too large' }
    const chunks: Buffer[] = []
    let length = 0
    while (length <= maxBytes) {
      const { bytesRead, buffer } = await handle.read(Buffer.alloc(READ_SIZE), 0, READ_SIZE, null)
      if (bytesRead === 0) return { version, bytes: Buffer.concat(chunks, length) }
      chunks.push(buffer.subarray(0, bytesRead))
      length += bytesRead
    }
    return { version, problem: 'too large' }
  } finally {
    await handle.close()
  }
}
