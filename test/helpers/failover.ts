// A relay with several scripted upstreams, for the failover and standby tests.
import type { TestContext } from 'node:test'
import type { RelayDefinition, RelayEvents, RelayPluginOptions } from '../../lib/index.js'
import { relayApp, waitForState, waitUntil, type RelayApp } from './app.js'
import { MP3_FRAME_BYTES, mp3Frames } from './frames.js'
import { openListener, type OpenListener } from './listen.js'
import { scriptedUpstream, type ScriptedOptions, type ScriptedUpstream } from './scripted.js'

export interface FailoverSetup extends RelayApp {
  upstreams: ScriptedUpstream[]
  events: Array<RelayEvents['failover']>
}

/** A relay at `/f` with one scripted upstream per `answers` entry, in that order. */
export async function failoverRelay (
  t: TestContext,
  answers: ScriptedOptions[],
  relay: Omit<RelayDefinition, 'upstreams' | 'localMount'> = {},
  plugin: Omit<RelayPluginOptions, 'relays'> = {}
): Promise<FailoverSetup> {
  const upstreams = await Promise.all(answers.map(async (answer) => await scriptedUpstream(answer)))
  const app = await relayApp({
    limits: { burstSize: 0, gracePeriod: 10, ...plugin.limits },
    ...plugin,
    relays: [{ ...relay, localMount: '/f', upstreams: upstreams.map((u) => ({ url: u.url('/s') })) }]
  })
  const events: Array<RelayEvents['failover']> = []
  app.app.relay.on('failover', (event) => events.push(event))
  t.after(async () => {
    await app.app.close()
    await Promise.all(upstreams.map(async (u) => await u.close()))
  })
  return { ...app, upstreams, events }
}

/** Once the relay is live on its first upstream: a listener that got 12 frames of it. */
export async function listenerOnFirst ({ app, url, upstreams: [first] }: FailoverSetup): Promise<OpenListener> {
  await waitForState(app, '/f', 'live')
  const listener = openListener(url('/f'))
  await listener.head
  await waitUntil(() => app.relay.get('/f')!.listeners === 1)
  first!.push(mp3Frames(12))
  await listener.waitForBytes(12 * MP3_FRAME_BYTES)
  return listener
}
