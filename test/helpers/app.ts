// Builds a Fastify app with the plugin on a random loopback port, and waits for relay states.
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import fastifyIcecastRelay, { type RelayDefinition, type RelayPluginOptions, type RelayState } from '../../lib/index.js'
import { scriptedUpstream, type ScriptedOptions, type ScriptedUpstream } from './scripted.js'

export interface RelayApp {
  app: FastifyInstance
  base: string
  url: (path: string) => string
}

export async function relayApp (
  options: RelayPluginOptions, setup?: (app: FastifyInstance) => void | Promise<void>
): Promise<RelayApp> {
  const app = Fastify()
  await app.register(fastifyIcecastRelay, options)
  await setup?.(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return { app, base, url: (path) => base + path }
}

export interface ScriptedRelayOptions {
  /** the upstream's answer */
  upstream?: ScriptedOptions
  /** the relay's own keys besides `url` and `localMount` */
  relay?: Omit<RelayDefinition, 'url' | 'localMount'>
  /** the plugin's options besides `relays` */
  plugin?: Omit<RelayPluginOptions, 'relays'>
}

/**
 * The setup of most relay tests: a scripted upstream relayed at `localMount` by an app of its own, both
 * closed when the test ends; resolves once the relay is live (an on-demand relay: at once, idle).
 */
export async function scriptedRelay (
  t: TestContext, localMount: string, options: ScriptedRelayOptions = {}
): Promise<RelayApp & { upstream: ScriptedUpstream }> {
  const upstream = await scriptedUpstream(options.upstream)
  const relay = await relayApp({ ...options.plugin, relays: [{ ...options.relay, url: upstream.url(), localMount }] })
  t.after(async () => { await relay.app.close(); await upstream.close() })
  await waitForState(relay.app, localMount, options.relay?.onDemand === true ? 'idle' : 'live')
  return { ...relay, upstream }
}

export async function waitForState (
  app: FastifyInstance, localMount: string, state: RelayState, timeoutMs = 5000
): Promise<void> {
  if (app.relay.get(localMount)?.state === state) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      app.relay.off('state', onState)
      reject(new Error(`${localMount} is ${app.relay.get(localMount)?.state}, not ${state}, after ${timeoutMs} ms`))
    }, timeoutMs)
    function onState (event: { localMount: string, state: RelayState }): void {
      if (event.localMount !== localMount || event.state !== state) return
      clearTimeout(timer)
      app.relay.off('state', onState)
      resolve()
    }
    app.relay.on('state', onState)
  })
}

export async function waitUntil (check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * The machine link of a worker whose machine says nothing back (no other process holds a session, every place
 * is free), its segments cut by the process at `originUrl` (a stand-in primary), read with the relay user and `password`.
 */
export function quietMachine (originUrl: string, password: string): NonNullable<RelayPluginOptions['machine']> {
  return {
    index: 1,
    ask: async () => [],
    answer: () => {},
    reserve: async () => 'ok',
    release: () => {},
    hlsOrigin: { url: originUrl, username: 'relay', password }
  }
}
