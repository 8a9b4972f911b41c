// Child processes and temp dirs for integration tests: everything started here is killed when the test
// process exits, even when it dies by SIGKILL (a detached watchdog per child polls for the parent).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Exit { code: number | null, signal: NodeJS.Signals | null }

export interface Proc {
  readonly child: ChildProcess
  readonly pid: number
  /** stdout and stderr interleaved, as text (the last 1 MB); empty with `capture: false` */
  output (): string
  /** resolves when the process has exited (reading it refs the child, so that awaiting it keeps Node alive) */
  readonly exited: Promise<Exit>
  /** the same promise without ref'ing the child */
  readonly onExit: Promise<Exit>
  alive (): boolean
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves once the process is gone */
  stop (opts?: { signal?: NodeJS.Signals, graceMs?: number }): Promise<Exit>
}

const children = new Set<ChildProcess>()
const tempDirs = new Set<string>()
let hooked = false

function hookExit (): void {
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    for (const c of children) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        try { process.kill(c.pid, 'SIGKILL') } catch {}
      }
    }
    if (process.env.HARNESS_KEEP_TMP) return
    for (const d of tempDirs) {
      try { rmSync(d, { recursive: true, force: true }) } catch {}
    }
  })
}

/** dist/ of this repository, where the built CLI runs from */
const DIST = new URL('../../dist/', import.meta.url).pathname

/**
 * `env` without NODE_V8_COVERAGE, the variable through which c8 has every Node process write V8 coverage. It
 * stays, as undefined: Node passes its own NODE_V8_COVERAGE on to a child whose env does not name it.
 */
export function withoutV8Coverage (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, NODE_V8_COVERAGE: undefined }
}

/**
 * The environment a child gets: a Node process that runs a script of dist/ (the built CLI) runs without V8
 * coverage. c8 counts lib/ only and does not map dist/ back to it, so such a process's block counters and
 * the megabytes of coverage it writes at exit would only take CPU from the tests running beside it.
 */
export function childEnv (cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const script = args.find((arg) => !arg.startsWith('-'))
  return cmd === process.execPath && script?.startsWith(DIST) === true ? withoutV8Coverage(env) : env
}

// Kills `childPid` if this process disappears first; exits by itself when the child is gone.
const WATCHDOG = 'p=$1; c=$2; while kill -0 "$p" 2>/dev/null && kill -0 "$c" 2>/dev/null; do sleep 0.5; done; ' +
  'kill -0 "$p" 2>/dev/null || kill -KILL "$c" 2>/dev/null; exit 0'

const MAX_OUTPUT = 1 << 20

/**
 * Spawns a tracked child. `keepAlive: false` (the default) unrefs it and its pipes so that a test that
 * forgets to stop it does not keep the test process alive (the exit hook then kills it).
 */
export function spawnTracked (cmd: string, args: string[], opts: SpawnOptions & { keepAlive?: boolean, capture?: boolean } = {}): Proc {
  hookExit()
  const { keepAlive = false, capture = true, ...spawnOpts } = opts
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts, env: childEnv(cmd, args, spawnOpts.env) })
  if (child.pid === undefined) {
    // spawn failed (ENOENT etc. are also emitted later as 'error': swallow that one)
    child.on('error', () => {})
    throw new Error(`cannot spawn ${cmd} (is it installed?)`)
  }
  const pid = child.pid
  children.add(child)
  let out = ''
  const onData = (d: Buffer): void => {
    out += d.toString('utf8')
    if (out.length > MAX_OUTPUT) out = out.slice(out.length - MAX_OUTPUT)
  }
  if (capture) {
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
  }

  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'harness-watchdog', String(process.pid), String(pid)], {
    detached: true, stdio: 'ignore'
  })
  watchdog.unref()

  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child)
      if (watchdog.pid !== undefined && watchdog.exitCode === null) {
        try { process.kill(watchdog.pid, 'SIGKILL') } catch {}
      }
      resolve({ code, signal })
    })
  })
  child.on('error', (e) => { onData(Buffer.from(`\n[spawn error] ${e.message}\n`)) })

  if (!keepAlive) {
    child.unref()
    for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.()
  }

  const alive = (): boolean => child.exitCode === null && child.signalCode === null

  return {
    child,
    pid,
    output: () => out,
    get exited () {
      child.ref()
      return exited
    },
    onExit: exited,
    alive,
    async stop ({ signal = 'SIGTERM', graceMs = 2000 } = {}) {
      if (!alive()) return await exited
      child.ref() // keep Node alive until it is gone
      try { process.kill(pid, signal) } catch {}
      if (signal !== 'SIGKILL') {
        const t = setTimeout(() => { try { process.kill(pid, 'SIGKILL') } catch {} }, graceMs)
        const r = await exited
        clearTimeout(t)
        return r
      }
      return await exited
    }
  }
}

/** Runs a command to completion (ref'd), collecting stdout (as Buffer) and stderr. */
export async function run (cmd: string, args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<{
  code: number | null, signal: NodeJS.Signals | null, stdout: Buffer, stderr: string
}> {
  const { timeoutMs = 60_000, ...spawnOpts } = opts
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts, env: childEnv(cmd, args, spawnOpts.env) })
    children.add(child)
    hookExit()
    const out: Buffer[] = []
    let err = ''
    child.stdout?.on('data', (d: Buffer) => out.push(d))
    child.stderr?.on('data', (d: Buffer) => { err += d.toString('utf8') })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.once('error', (e) => { clearTimeout(timer); children.delete(child); reject(e) })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err })
    })
  })
}

/** Runs a command and throws (with its stderr) unless it exits 0. */
export async function runOk (cmd: string, args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<Buffer> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (code ${r.code}, signal ${r.signal}):\n${r.stderr}`)
  }
  return r.stdout
}

/** A fresh directory under os.tmpdir(), removed when the process exits (unless HARNESS_KEEP_TMP is set). */
export function makeTempDir (prefix: string): string {
  hookExit()
  const dir = mkdtempSync(join(tmpdir(), `icecast-relay-${prefix}-`))
  tempDirs.add(dir)
  return dir
}

export function removeTempDir (dir: string): void {
  if (process.env.HARNESS_KEEP_TMP) return
  tempDirs.delete(dir)
  try { rmSync(dir, { recursive: true, force: true }) } catch {}
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, host, () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/**
 * How long a test waits for a Node process it started (the CLI, a worker) to get going: about a second of CPU
 * each, which on a 2-core machine shared with other suites and benchmarks has taken over 10 s.
 */
export const START_TIMEOUT_MS = 45_000

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `fn` until it returns a value other than undefined/false; throws `message` after `timeoutMs`. */
export async function waitFor<T> (fn: () => T | Promise<T>, { timeoutMs = 5000, intervalMs = 50, message = 'condition', signal }:
{ timeoutMs?: number, intervalMs?: number, message?: string | (() => string | Promise<string>), signal?: AbortSignal } = {}): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    if (signal?.aborted) throw new Error('waitFor aborted')
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v as Exclude<T, false | undefined>
    } catch (e) { lastError = e }
    if (Date.now() >= deadline) {
      const m = typeof message === 'function' ? await message() : message
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${m}${cause}`)
    }
    await sleep(intervalMs)
  }
}

export interface HttpResult { status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }

/**
 * A one-shot HTTP GET without keep-alive (no pooled sockets left behind). Reads the whole body.
 * `localAddress` makes the request come from another loopback address (127.0.0.2, …): another client host.
 */
export async function httpGet (url: string, { headers = {}, timeoutMs = 3000, auth, localAddress }:
{ headers?: Record<string, string>, timeoutMs?: number, auth?: { user: string, password: string }, localAddress?: string } = {}): Promise<HttpResult> {
  return await new Promise((resolve, reject) => {
    const h: Record<string, string> = { connection: 'close', ...headers }
    if (auth) h.authorization = 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64')
    const req = request(url, { agent: false, headers: h, timeout: timeoutMs, ...(localAddress !== undefined && { localAddress }) }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}
