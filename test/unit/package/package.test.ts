import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = new URL('../../..', import.meta.url).pathname

// The package is consumed by name, as users do, from the build in dist/ (npm test builds first).
const REGISTER = `
  const app = fastify()
  app.register(plugin, { relays: [{ server: '127.0.0.1', port: 9, localMount: '/x', onDemand: true }] })
  app.ready().then(() => { console.log(typeof app.relay.list, app.relay.list()[0].state); return app.close() })
`

test('require() gives the plugin as default and by name (Node 20.19+ loads the ES module)', async () => {
  const code = `
    const m = require('fastify-icecast-relay')
    if (m.default !== m.fastifyIcecastRelay) throw new Error('default and named export differ')
    const fastify = require('fastify'); const plugin = m
    ${REGISTER}`
  const { stdout } = await run(process.execPath, ['--no-warnings', '-e', code], { cwd: root })
  assert.equal(stdout.trim(), 'function idle')
})

test('import gives the plugin as default and by name', async () => {
  const code = `
    import plugin, { fastifyIcecastRelay } from 'fastify-icecast-relay'
    import fastify from 'fastify'
    if (plugin !== fastifyIcecastRelay) throw new Error('default and named export differ')
    ${REGISTER}`
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: root })
  assert.equal(stdout.trim(), 'function idle')
})
