import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { withoutV8Coverage } from '../../helpers/procs.js'

const run = promisify(execFile)
const root = new URL('../../..', import.meta.url).pathname
const CRUISE = [join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'), 'lib', '--config', join(root, '.dependency-cruiser.json')]

/** The lint step `npm run lint` runs on lib/, in `cwd`: its exit code and what it printed. */
async function cruise (cwd: string): Promise<{ code: number, output: string }> {
  try {
    // dependency-cruiser parses lib/ and runs none of it: V8 coverage of it would be CPU for nothing
    const { stdout, stderr } = await run(process.execPath, CRUISE, { cwd, env: withoutV8Coverage(process.env) })
    return { code: 0, output: stdout + stderr }
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number, stdout: string, stderr: string }
    return { code, output: stdout + stderr }
  }
}

test('lib/ has no import cycle, type-only imports included', async () => {
  const { code, output } = await cruise(root)
  assert.equal(code, 0, output)
})

test('the lint step fails on a cycle made of type-only imports, naming the files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cycle-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'lib'))
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }))
  await writeFile(join(dir, 'lib/view.ts'), "import type { Registry } from './registry.js'\nexport interface View { registry: Registry }\n")
  await writeFile(join(dir, 'lib/registry.ts'), "import type { View } from './view.js'\nexport interface Registry { views: View[] }\n")
  const { code, output } = await cruise(dir)
  assert.notEqual(code, 0, output)
  assert.match(output, /no-cycle: lib\/(view|registry)\.ts/)
  assert.match(output, /lib\/view\.ts[\s\S]*lib\/registry\.ts|lib\/registry\.ts[\s\S]*lib\/view\.ts/)
})
