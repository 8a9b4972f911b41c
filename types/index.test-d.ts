import fastify from 'fastify'
import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd'
import icecastRelay, {
  fastifyIcecastRelay,
  type EndReason,
  type HlsOption,
  type MasterStatus,
  type SelectNode,
  type SlaveStatus,
  type MountSettings,
  type MoveReason,
  type ListenerInfo,
  type RelayError,
  type RelayEvents,
  type RelayMetadata,
  type RelayPluginOptions,
  type RelayRegistry,
  type RelayState,
  type RelayStatus,
  type UpstreamDefinition,
  type UpstreamState
} from './index.js'
import type { Authenticate, HlsOrigin, Limits, MachineLink } from './index.js'

const app = fastify()

expectType<typeof fastifyIcecastRelay>(icecastRelay)

app.register(icecastRelay, {
  relays: [
    { server: '192.168.1.11', port: 8001, mount: '/example.ogg', localMount: '/different.ogg', relayShoutcastMetadata: false },
    { url: 'https://radio.example/live', username: 'u', password: 'p', onDemand: true, maxListeners: 10 }
  ],
  limits: { clients: 100, burstSize: 65535, queueSize: 524288, sourceTimeout: 10 },
  prefix: '/radio'
})
app.register(fastifyIcecastRelay)

// several upstreams in priority order, a file among them, and the failover options
app.register(icecastRelay, {
  relays: [{
    upstreams: [
      { server: '127.0.0.2', port: 8000, mount: '/live.mp3', username: 'u', password: 'p' },
      { url: 'https://127.0.0.3:8443/live.mp3', rejectUnauthorized: false },
      { file: '/srv/loop.mp3' }
    ],
    localMount: '/live.mp3',
    failback: false,
    stallTimeout: 1.5,
    standby: true,
    fallbackMount: '/other.mp3',
    fallbackOverride: true,
    intro: '/srv/intro.mp3',
    dumpFile: { path: '/srv/dump/live-%Y%m%d-%H%M%S.mp3', rotateBytes: 1048576, rotateSeconds: 3600 }
  }]
})
expectAssignable<RelayPluginOptions>({ relays: [{ url: 'http://h/a', dumpFile: '/srv/dump/%F.mp3' }] })
expectError(app.register(icecastRelay, { relays: [{ url: 'http://h/a', dumpFile: { path: '/d.mp3', rotateBytes: '1M' } }] }))
expectError(app.register(icecastRelay, { relays: [{ url: 'http://h/a', intro: 42 }] }))
expectAssignable<UpstreamDefinition>({ file: '/srv/loop.mp3' })
expectError(app.register(icecastRelay, { relays: [{ upstreams: [{ server: 'h', port: '8000' }] }] }))
expectError(app.register(icecastRelay, { relays: [{ url: 'http://h/a', failback: 'no' }] }))

expectError(app.register(icecastRelay, { relays: [{ server: 'h', port: '8000' }] }))
expectError(app.register(icecastRelay, { limits: { clients: 'many' } }))
expectError(app.register(icecastRelay, { relays: [{ server: 'h', port: 1, unknownKey: true }] }))
expectAssignable<RelayPluginOptions>({
  relays: [{ server: '127.0.0.1', port: 8443, tls: true, redirects: 'public', ca: ['-----BEGIN CERTIFICATE-----'], servername: 'radio.test', rejectUnauthorized: true }],
  master: { server: 'm', port: 8000, password: 'p', redirects: 'any', ca: '-----BEGIN CERTIFICATE-----' }
})
expectError(app.register(icecastRelay, { relays: [{ server: 'h', port: 1, redirects: 'everywhere' }] }))
expectAssignable<RelayPluginOptions>({})
expectAssignable<RelayPluginOptions>({ master: { server: 'm', port: 8000, password: 'p' }, relayAuth: { password: 'p' } })
expectAssignable<RelayPluginOptions>({ master: { server: 'm', port: 8000, password: 'p', maxRelays: 50 }, limits: { authFailures: 5, authWindow: 30 } })
// master per-mount credentials: a map by mount or a function of the mount
expectAssignable<RelayPluginOptions>({ master: { server: 'm', port: 8000, password: 'p', credentials: { '/locked.mp3': { username: 'u', password: 'p' } } } })
expectAssignable<RelayPluginOptions>({ master: { server: 'm', port: 8000, password: 'p', credentials: (mount: string) => mount === '/a' ? { username: 'u', password: 'p' } : undefined } })
expectNotAssignable<RelayPluginOptions>({ master: { server: 'm', port: 8000, password: 'p', credentials: { '/a': { username: 'u' } } } })
expectAssignable<RelayPluginOptions>({
  master: [
    { server: 'm', port: 8000, password: 'p', username: 'relay', updateInterval: 30, onDemand: true, tls: true },
    { server: 'n', port: 8000, password: 'q' }
  ],
  relayAuth: { username: 'slave', password: 'p' }
})
expectError(app.register(icecastRelay, { master: { server: 'm', port: 8000 } }))
expectError(app.register(icecastRelay, { relayAuth: { username: 'relay' } }))
expectAssignable<RelayPluginOptions>({
  admin: { username: 'admin', password: 's3cret' },
  stats: false,
  hostname: 'radio.example',
  location: 'Earth',
  adminEmail: 'icemaster@localhost',
  serverId: 'Icecast 2.4.4'
})
expectError(app.register(icecastRelay, { admin: { username: 'admin' } }))
expectError(app.register(icecastRelay, { admin: { password: 'x' } }))
expectError(app.register(icecastRelay, { stats: 'no' }))

// RelayPluginOptions is the options schema's type: a key it does not know is refused, every key it knows taken
expectError<RelayPluginOptions>({ relys: [] })
expectError<RelayPluginOptions>({ limits: { client: 5 } })
expectError<RelayPluginOptions>({ limits: { tlsWriteInterval: '0.5' } })
expectError<RelayPluginOptions>({ limits: { crowdWriteInterval: '0.5' } })
expectError<RelayPluginOptions>({ limits: { busyWriteInterval: '0.5' } })
expectError(app.register(icecastRelay, { relys: [{ server: 'h', port: 1 }] }))
expectError(app.register(icecastRelay, { admn: { username: 'admin', password: 'x' } }))
expectAssignable<RelayPluginOptions>({
  relays: [{ url: 'http://h:8000/a', localMount: '/a', onDemand: true, maxListeners: 5, metaint: 8192, charset: 'latin1', publicOnly: true }],
  limits: { clients: 1, burstSize: 0, queueSize: 4096, sourceTimeout: 1, connectTimeout: 1, gracePeriod: 0, onDemandLinger: 0, maxBackoff: 1, writeInterval: 0, tlsWriteInterval: 0.5, crowdWriteInterval: 0.5, busyWriteInterval: 0, authFailures: 1, authWindow: 1 },
  prefix: '/radio',
  userAgent: 'me',
  master: { server: 'm', port: 8000, password: 'p' },
  relayAuth: { username: 'relay', password: 'p' },
  admin: { username: 'admin', password: 'p' },
  stats: false,
  hostname: 'radio.example',
  location: 'Earth',
  adminEmail: 'ops@radio.example',
  serverId: 'Icecast 2.4.4'
})
// per-mount settings: on a relay, by local mount, for every mount
const settings: MountSettings = { maxListeners: 5, maxListenerDuration: 3600, hidden: true, public: false, streamName: 'n', streamDescription: 'd', streamUrl: 'u', genre: 'g', burstSize: 8192, metaint: 8192, charset: 'latin1' }
expectAssignable<RelayPluginOptions>({ relays: [{ url: 'http://h:8000/a', ...settings }], mounts: { '/a': settings }, mountDefaults: settings })
expectError<RelayPluginOptions>({ mounts: { '/a': { hiden: true } } })
expectError<RelayPluginOptions>({ mountDefaults: { hidden: 'yes' } })
expectType<boolean>(({} as RelayStatus).hidden)
expectAssignable<EndReason>('duration')
expectAssignable<RelayEvents['listener']['reason']>('duration')
// Fastify's own register options go with the plugin's
app.register(icecastRelay, { prefix: '/radio', logLevel: 'warn', logSerializers: { relay: (value: unknown) => String(value) } })
// every limit has a default, so the limits the relays use are all there
expectType<number>(({} as Limits).clients)

expectType<RelayRegistry>(app.relay)
expectType<RelayStatus>(app.relay.add({ server: 'h', port: 8000, mount: '/a' }))
expectType<boolean>(app.relay.remove('/a'))
expectType<RelayStatus | undefined>(app.relay.get('/a'))
expectType<RelayStatus[]>(app.relay.list())
expectType<void>(app.relay.setMetadata('/a', { title: 'Song', url: 'https://example.org' }))
expectError(app.relay.add({ server: 'h', port: 'x' }))
expectType<RelayStatus>(app.relay.add({ server: 'h', port: 8000, mount: '/b' }, { origin: 'mine' }))

expectType<MasterStatus[]>(app.relay.masters())
const master = app.relay.masters()[0]!
expectType<string>(master.url)
expectType<401 | 403>(master.refused[0]!.status)
expectType<string>(master.refused[0]!.localMount)
expectType<string>(master.refused[0]!.retryAt)
expectType<string | null>(master.lastPollAt)
expectType<string | null>(master.lastSuccessAt)
expectType<string | null>(master.nextPollAt)
expectType<string | undefined>(master.lastError?.message)
expectType<string[]>(master.mounts)
expectType<string[]>(master.relays)
expectType<string[]>(master.shadowed)
expectType<number>(master.listed)
expectType<boolean>(master.truncated)
expectType<number>(master.ignoredLines)
expectType<ListenerInfo[] | undefined>(app.relay.listenersOf('/a'))
expectType<number>(app.relay.listenersOf('/a')![0]!.connectedSeconds)
expectType<boolean>(app.relay.kick('/a', 3))
expectType<Promise<number>>(app.relay.moveListeners('/a', '/b'))
expectType<boolean>(app.relay.restart('/a'))

const status = app.relay.list()[0]!
expectType<RelayState>(status.state)
expectType<number>(status.listeners)
expectType<number>(status.bytesIn)
expectType<number>(status.bytesOut)
expectType<string | null>(status.connectedSince)
expectType<string>(status.origin)
expectType<number>(status.activeUpstream)
expectType<number>(status.switches)
expectType<string>(status.upstreams[0]!.url)
expectType<UpstreamState>(status.upstreams[0]!.state)
expectType<RelayError | null>(status.upstreams[0]!.lastError)
expectType<string | undefined>(status.metadata?.title)
expectType<string | null>(status.fallbackMount)
expectType<boolean>(status.fallbackOverride)
expectType<number>(status.fallbackListeners)

app.relay.on('state', (event) => {
  expectType<RelayEvents['state']>(event)
  expectType<RelayState>(event.state)
})
app.relay.on('listener', (event) => {
  expectType<'join' | 'leave'>(event.action)
  if (event.reason === 'fallback' || event.reason === 'override' || event.reason === 'moved') expectType<MoveReason>(event.reason)
})
app.relay.on('metadata', (event) => {
  expectType<string | undefined>(event.metadata.title)
})
app.relay.on('metadata', (event) => {
  expectType<RelayMetadata>(event.metadata)
})
app.relay.on('failover', (event) => {
  expectType<RelayEvents['failover']>(event)
  expectType<number>(event.from)
  expectType<number>(event.to)
  expectType<string>(event.reason)
})

// on, once and off take the events' own payloads and chain
const onState = (event: RelayEvents['state']): void => { expectType<RelayState>(event.previous) }
expectType<RelayRegistry>(app.relay.on('state', onState).once('listener', (event) => {
  expectType<number>(event.id)
}))
expectType<RelayRegistry>(app.relay.off('state', onState))
expectError(app.relay.on('nothing', () => {}))
expectError(app.relay.on('listener', onState))
expectError(app.relay.off('metadata', onState))
expectError(app.relay.emit('state', { localMount: '/a', state: 'live', previous: 'idle' }))

// the registry's internals are not in the decorator's type
expectError(app.relay.extend({}))
expectError(app.relay.listenerFraming)
expectError(app.relay.find('/a'))
expectError(app.relay.admitListener)
expectError(app.relay.endListener)
expectError(app.relay.nextListenerId())
expectError(app.relay.totalListeners)
expectError(app.relay.closing)
expectError(app.relay.startAll())
expectError(app.relay.stopAll())
expectError(app.relay.reportMasters(() => []))
expectError(app.relay.limits)
expectError(app.relay.ending)

// Listener authentication: a function of the request and the mount, per relay and for the app; Icecast's authenticators
app.register(icecastRelay, {
  authenticate: (request, mount) => request.headers['x-token'] === 'secret' && mount.startsWith('/'),
  listenerAuth: { url: { listenerAdd: 'http://127.0.0.1:9000/auth', listenerRemove: 'http://127.0.0.1:9000/auth', timeout: 2, onError: 'admit' } },
  relays: [
    { url: 'http://127.0.0.1:8000/a', authenticate: async (request) => await Promise.resolve(request.ip === '127.0.0.1') },
    { url: 'http://127.0.0.1:8000/b', listenerAuth: { htpasswd: '/etc/icecast2/listeners', allowDuplicateUsers: true } }
  ]
})
expectAssignable<Authenticate>((_request, _mount) => true)
expectError(app.register(icecastRelay, { authenticate: 'yes' }))
expectError(app.register(icecastRelay, { listenerAuth: { url: { listenerAdd: 'http://127.0.0.1/', onError: 'maybe' } } }))

// Many machines: slaves register for redirects; a master redirects new listeners, the app may choose the node
app.register(icecastRelay, {
  master: { server: 'master.example', port: 8000, password: 'secret', redirect: { host: 'relay2.example', port: 8000, scheme: 'https' } },
  relayAuth: { password: 'secret' },
  redirect: {
    maxSlaves: 10,
    policy: 'always',
    selectNode: (request, candidates) => candidates.find((node) => node.kind === 'slave' && request.headers['x-region'] === node.key)
  }
})
app.register(icecastRelay, { master: { server: 'master.example', port: 8000, password: 'secret', redirect: true } })
expectType<SlaveStatus[]>(app.relay.slaves())
expectAssignable<SelectNode>(async (_request, candidates) => await Promise.resolve(candidates[0]))
expectError(app.register(icecastRelay, { relayAuth: { password: 'x' }, redirect: { policy: 'sometimes' } }))
expectError(app.register(icecastRelay, { master: { server: 'm', port: 8000, password: 'x', redirect: { scheme: 'ftp' } } }))
// Machine-wide answers: a link to the other processes of the machine
const machine: MachineLink = { index: 1, ask: async (query) => [query], answer: (respond) => { respond({ kind: 'figures' }).catch(() => {}) }, reserve: async () => 'ok', release: () => {} }
app.register(icecastRelay, { machine })
expectError(app.register(icecastRelay, { machine: { index: 1, ask: async () => [] } }))
expectError(app.register(icecastRelay, { machine: { ask: async () => [], answer: () => {}, reserve: async () => 'ok', release: () => {} } }))
expectError(app.register(icecastRelay, { machine: { ...machine, reserve: async () => 'yes' } }))
expectError(app.register(icecastRelay, { machine: 'cluster' }))
// HLS: the app's settings, a relay's own over them, or off
expectAssignable<HlsOption>({ segmentSeconds: 2, windowSegments: 10, cors: 'https://player.example' })
app.register(icecastRelay, { hls: { segmentSeconds: 6, cors: false }, relays: [{ url: 'http://h/a', hls: false }, { url: 'http://h/b', hls: { windowSegments: 3 } }] })
app.register(icecastRelay, { hls: true })
expectType<number | undefined>(({} as RelayStatus).hlsListeners)
expectError(app.register(icecastRelay, { hls: { segmentSeconds: '6' } }))
expectError(app.register(icecastRelay, { relays: [{ url: 'http://h/a', hls: 'on' }] }))
// a relay added at run time, as this process relays it when another holds the upstreams
app.register(icecastRelay, { machine: { ...machine, mirror: (definition) => ({ ...definition, url: 'http://127.0.0.1:8001/a' }) } })
expectError(app.register(icecastRelay, { machine: { ...machine, mirror: () => 'http://127.0.0.1:8001/a' } }))
// HLS across a machine: where a process takes the windows and segments that another cuts for all
const hlsOrigin: HlsOrigin = { url: 'http://127.0.0.1:8001', username: 'relay', password: 'the link secret' }
app.register(icecastRelay, { machine: { ...machine, hlsOrigin }, hls: true })
expectType<HlsOrigin | undefined>(machine.hlsOrigin)
expectError(app.register(icecastRelay, { machine: { ...machine, hlsOrigin: { url: 'http://127.0.0.1:8001' } } }))
expectError(app.register(icecastRelay, { machine: { ...machine, hlsOrigin: 'http://127.0.0.1:8001' } }))
