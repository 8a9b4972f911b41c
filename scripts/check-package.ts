// `npm run test:package`: the package as a user gets it. Packs the current build (npm test builds first),
// installs the tarball in an empty folder with Fastify, loads it by import and by require, registers it,
// runs its bin, type-checks a consumer against it and has @arethetypeswrong/cli judge its types.
// Exits 1 naming the step that failed; the temporary folder goes in every case.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const exec = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const NAME = 'fastify-icecast-relay'

/** What the tarball may hold besides package.json, README and licence files: the build and the type entry. */
const SHIPPED = [/^dist\/.+\.(js|d\.ts)$/, /^types\/index\.d\.ts$/]
const ALWAYS = /^(package\.json|README(\.md)?|LICEN[CS]E(\.md|\.txt)?)$/i
const REQUIRED = ['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'types/index.d.ts']

class CheckFailure extends Error {}

/** Runs a command; a non-zero exit becomes a failure that shows what it printed. */
async function run (command: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await exec(command, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } })
    return stdout
  } catch (error) {
    const { stdout = '', stderr = '', message } = error as { stdout?: string, stderr?: string, message: string }
    throw new CheckFailure(`${[command, ...args].join(' ')} failed: ${message}\n${stdout}${stderr}`.trim())
  }
}

function expect (condition: boolean, message: string): void {
  if (!condition) throw new CheckFailure(message)
}

async function filesUnder (folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true })
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name))
}

/** A build older than its sources would be packed as it is: say so rather than test yesterday's code. */
async function checkBuildIsFresh (): Promise<void> {
  const built = await stat(join(ROOT, 'dist/index.js')).catch(() => undefined)
  expect(built !== undefined, 'dist/index.js is missing: run `npm run build` first')
  for (const source of await filesUnder(join(ROOT, 'lib'))) {
    const output = join(ROOT, 'dist', relative(join(ROOT, 'lib'), source)).replace(/\.ts$/, '.js')
    const [sourceStat, outputStat] = await Promise.all([stat(source), stat(output).catch(() => undefined)])
    expect(outputStat !== undefined && outputStat.mtimeMs >= sourceStat.mtimeMs,
      `${relative(ROOT, output)} is missing or older than ${relative(ROOT, source)}: run \`npm run build\` first`)
  }
}

/** The names in the tarball that are not meant to be shipped, and the required ones that are missing. */
function packingProblems (paths: string[]): string[] {
  const unexpected = paths.filter((path) => !ALWAYS.test(path) && !SHIPPED.some((pattern) => pattern.test(path)))
  const missing = REQUIRED.filter((path) => !paths.includes(path))
  return [...unexpected.map((path) => `unexpected file ${path}`), ...missing.map((path) => `missing ${path}`)]
}

async function pack (into: string): Promise<string> {
  // --ignore-scripts: pack what was built and tested, without a rebuild under the tests' feet
  const [packed] = JSON.parse(await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', into], ROOT)) as
    Array<{ filename: string, files: Array<{ path: string }> }>
  const problems = packingProblems(packed.files.map((file) => file.path))
  const shown = problems.slice(0, 10).concat(problems.length > 10 ? [`and ${problems.length - 10} more`] : [])
  expect(problems.length === 0, `the tarball's files are wrong (see "files" in package.json):\n  ${shown.join('\n  ')}`)
  return join(into, packed.filename)
}

const SOURCE_MAP_URL = /^\/\/# sourceMappingURL=(.+)$/m

/** Whether a path, relative to a file of the installed package, names a file of that package. */
async function shipped (installed: string, from: string, path: string): Promise<boolean> {
  const target = resolve(dirname(from), path)
  return target.startsWith(installed + '/') && await stat(target).then(() => true, () => false)
}

/** A source map reference, and every source a shipped map names, is a file the package holds. */
async function checkSourceMaps (installed: string): Promise<void> {
  for (const file of await filesUnder(installed)) {
    const text = await readFile(file, 'utf8')
    const mapUrl = SOURCE_MAP_URL.exec(text)?.[1]
    const sources = file.endsWith('.map') ? (JSON.parse(text) as { sources: string[] }).sources : []
    for (const path of mapUrl === undefined ? sources : [mapUrl, ...sources]) {
      expect(await shipped(installed, file, path), `${relative(installed, file)} points at ${path}, which the package does not ship` +
        ' (see docs/architecture.md, The package; or is dist/ stale? `npm run build` starts it afresh)')
    }
  }
}

async function install (consumer: string, tarball: string): Promise<void> {
  const { version } = JSON.parse(await readFile(join(ROOT, 'node_modules/fastify/package.json'), 'utf8')) as { version: string }
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  // fastify is a peer dependency: the user installs it, at the version the repository tests with (in npm's cache)
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, `fastify@${version}`], consumer)
}

const REGISTER = `
  if (typeof plugin !== 'function') throw new Error('the default export is a ' + typeof plugin + ', not the plugin')
  const app = fastify()
  app.register(plugin, { relays: [{ server: '127.0.0.1', port: 9, localMount: '/x', onDemand: true }] })
  app.ready().then(() => {
    const [status] = app.relay.list()
    if (status?.localMount !== '/x' || status.state !== 'idle') throw new Error('app.relay.list() gave ' + JSON.stringify(status))
    return app.close()
  }).then(() => console.log('registered'))
`

async function checkImport (consumer: string): Promise<void> {
  const code = `
    import plugin, { fastifyIcecastRelay } from '${NAME}'
    import fastify from 'fastify'
    if (plugin !== fastifyIcecastRelay) throw new Error('the default and the named export differ')
    ${REGISTER}`
  expect((await run(process.execPath, ['--input-type=module', '-e', code], consumer)).trim() === 'registered', 'import: the app did not get ready')
}

async function checkRequire (consumer: string): Promise<void> {
  // Node 20.19 (the package's engines) loads an ES module by require(): CommonJS users get the same plugin
  const code = `
    const m = require('${NAME}')
    if (m.default !== m.fastifyIcecastRelay) throw new Error('the default and the named export differ')
    const plugin = m.default
    const fastify = require('fastify')
    ${REGISTER}`
  expect((await run(process.execPath, ['--no-warnings', '-e', code], consumer)).trim() === 'registered', 'require: the app did not get ready')
}

async function checkBin (consumer: string): Promise<void> {
  const bin = join(consumer, 'node_modules/.bin/icecast-relay')
  expect((await run(bin, ['--help'], consumer)).includes('Usage: icecast-relay'), 'icecast-relay --help printed no usage')
  // --check reads a config with the installed dependencies (the XML parser) and starts nothing
  await writeFile(join(consumer, 'icecast.xml'), '<relay><server>127.0.0.1</server><port>9</port><mount>/x</mount></relay>')
  expect((await run(bin, ['--config', 'icecast.xml', '--check'], consumer)).includes('/x'), 'icecast-relay --check did not print the relay')
}

const CONSUMER_TS = `
import fastify from 'fastify'
import icecastRelay, { type RelayStatus } from '${NAME}'

const app = fastify()
await app.register(icecastRelay, { relays: [{ server: '127.0.0.1', port: 9, localMount: '/x', onDemand: true }] })
const statuses: RelayStatus[] = app.relay.list()
const states: string[] = statuses.map((status) => status.state)
app.relay.on('state', ({ localMount, state }) => { states.push(localMount + ' ' + state) })
// @ts-expect-error a port is a number
await app.register(icecastRelay, { relays: [{ server: '127.0.0.1', port: '9' }] })
// @ts-expect-error app.relay is typed, not any
app.relay.noSuchMethod()
`

// TypeScript 5.8+ with NodeNext lets CommonJS code require() an ES module too, as Node 20.19 does
const CONSUMER_CTS = `
import fastify = require('fastify')
import icecastRelay = require('${NAME}')

const app = fastify.default()
app.register(icecastRelay.default, { relays: [{ server: '127.0.0.1', port: 9, localMount: '/x' }] })
const listeners: number = app.relay.list().length
`

/** TypeScript users with NodeNext resolution, ESM and CommonJS, against the installed types (and Fastify's, unskipped). */
async function checkTypes (consumer: string): Promise<void> {
  await mkdir(join(consumer, 'src'))
  await writeFile(join(consumer, 'src/index.ts'), CONSUMER_TS)
  await writeFile(join(consumer, 'src/require.cts'), CONSUMER_CTS)
  await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')]
    },
    include: ['src']
  }))
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], consumer)
}

/**
 * Every resolution attw knows (node10, node16 from CJS and from ESM, bundler), with one rule off:
 * cjs-resolves-to-esm, since this package is ES modules only by design and CommonJS users load it with
 * require() of ESM, which Node 20.19 (its engines) does; checkRequire proves that it works.
 */
async function checkTypesResolution (tarball: string): Promise<void> {
  await run(join(ROOT, 'node_modules/.bin/attw'), [tarball, '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii', '--no-emoji'], ROOT)
}

async function main (): Promise<void> {
  const temp = mkdtempSync(join(tmpdir(), `${NAME}-package-`))
  const clean = (): void => rmSync(temp, { recursive: true, force: true })
  process.once('SIGINT', () => { clean(); process.exit(130) })
  const consumer = join(temp, 'consumer')
  const started = performance.now()
  let tarball = ''
  const steps: Array<[string, () => Promise<void>]> = [
    ['the build is fresh', checkBuildIsFresh],
    ['npm pack', async () => { tarball = await pack(temp) }],
    ['install the tarball and fastify in an empty folder', async () => { await mkdir(consumer); await install(consumer, tarball) }],
    ['source maps point at shipped files', () => checkSourceMaps(join(consumer, 'node_modules', NAME))],
    ['import', () => checkImport(consumer)],
    ['require', () => checkRequire(consumer)],
    ['the icecast-relay bin', () => checkBin(consumer)],
    ['TypeScript consumers (NodeNext, ESM and CommonJS) type-check', () => checkTypes(consumer)],
    ['@arethetypeswrong/cli on the tarball', () => checkTypesResolution(tarball)]
  ]
  try {
    for (const [name, step] of steps) {
      const at = performance.now()
      try {
        await step()
      } catch (error) {
        const detail = error instanceof CheckFailure ? error.message : (error as Error).stack
        console.error(`package check FAILED: ${name}\n${detail}`)
        process.exitCode = 1
        return
      }
      console.log(`ok ${name} (${((performance.now() - at) / 1000).toFixed(1)} s)`)
    }
    console.log(`package check passed in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  } finally {
    clean()
  }
}

await main()
