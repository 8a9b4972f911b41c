// A real icecast-kh (Karl Heyes' Icecast fork) for interop tests: built from the source tarball in
// ../shared/peers (beside the repository, in CI too) by its own script, once per tarball into a cache dir,
// then started like Debian's icecast2 (same icecast.xml, as nobody, on loopback) by startIcecastServer.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { XMLParser } from 'fast-xml-parser'
import { startIcecastServer, type Icecast, type IcecastOptions, type IcecastServer } from './icecast.js'
import { httpGet } from './procs.js'

export const PEERS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/peers')
const TARBALL = join(PEERS_DIR, 'icecast-kh-ea3554b.tar.gz')
const BUILD_SCRIPT = join(PEERS_DIR, 'build-icecast-kh.sh')
/** a build takes about 2 minutes on 2 idle cores; much longer while other tests load them */
const BUILD_TIMEOUT_MS = 15 * 60_000

const run = promisify(execFile)

/** The install prefix for this tarball: a new tarball gets a new build. */
export function khPrefix (tarball = TARBALL): string {
  const hash = createHash('sha256').update(readFileSync(tarball)).digest('hex').slice(0, 16)
  return join(tmpdir(), `fastify-icecast-relay-kh-${hash}`)
}

/**
 * Builds into a prefix of this process's own and renames it into place, so that two test runs building
 * at once never install over each other (kh reads its files from the paths the config gives, not the prefix).
 */
async function build (prefix: string): Promise<void> {
  const scratch = `${prefix}.build-${process.pid}`
  rmSync(scratch, { recursive: true, force: true })
  const started = Date.now()
  try {
    await run('bash', [BUILD_SCRIPT, scratch], { timeout: BUILD_TIMEOUT_MS, maxBuffer: 1 << 20 })
  } catch (e) {
    const { stderr = '', message } = e as { stderr?: string, message: string }
    rmSync(scratch, { recursive: true, force: true })
    throw new Error(`building icecast-kh failed (${BUILD_SCRIPT}): ${message}\n${stderr}`)
  }
  try {
    renameSync(scratch, prefix)
  } catch {
    // another run installed it first: keep theirs
    rmSync(scratch, { recursive: true, force: true })
  }
  process.stderr.write(`# icecast-kh built in ${Math.round((Date.now() - started) / 1000)} s into ${prefix}\n`)
}

let built: Promise<string> | undefined

/** The icecast-kh install prefix, built on first use; throws (never skips) if the peers dir is missing. */
export async function icecastKhPrefix (): Promise<string> {
  built ??= (async () => {
    if (!existsSync(TARBALL) || !existsSync(BUILD_SCRIPT)) {
      throw new Error(`icecast-kh's source is not at ${PEERS_DIR} (the repository's ../shared/peers): the kh tests need it`)
    }
    const prefix = khPrefix()
    if (!existsSync(join(prefix, 'bin/icecast'))) await build(prefix)
    return prefix
  })()
  built.catch(() => { built = undefined })
  return await built
}

const statsParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  isArray: (name, path) => path === 'icestats.source'
})

/** kh has no /status-json.xsl: its /admin/stats XML, read into the same shape (a source's mount is an attribute). */
export async function readKhStatus (base: string, admin: { user: string, password: string }): Promise<{ icestats: Record<string, unknown> }> {
  const r = await httpGet(`${base}/admin/stats`, { auth: admin })
  if (r.status !== 200) throw new Error(`/admin/stats: HTTP ${r.status}`)
  const doc = statsParser.parse(r.body.toString('utf8')) as { icestats?: Record<string, unknown> }
  if (doc.icestats === undefined) throw new Error(`/admin/stats: no <icestats> in ${r.body.toString('utf8').slice(0, 200)}`)
  const sources = (doc.icestats.source ?? []) as Array<Record<string, unknown>>
  return { icestats: { ...doc.icestats, source: sources.map((s) => ({ ...s, listenurl: s.listenurl ?? `${base}${String(s.mount)}` })) } }
}

export async function icecastKhServer (): Promise<IcecastServer> {
  const prefix = await icecastKhPrefix()
  return { name: 'icecast-kh', bin: join(prefix, 'bin/icecast'), share: join(prefix, 'share/icecast'), readStatus: readKhStatus }
}

/** Starts icecast-kh (built first if needed) with the same options as startIcecast. */
export async function startIcecastKh (opts: IcecastOptions = {}): Promise<Icecast> {
  return await startIcecastServer(await icecastKhServer(), opts)
}
