import type { RelayStatus } from '../../lib/relay/relay.js'
import { httpGet, type HttpResult } from './procs.js'

/** A live MP3 relay's status, as the registry gives it; `overrides` change any field. */
export function statusFixture (overrides: Partial<RelayStatus> = {}): RelayStatus {
  return {
    localMount: '/live.mp3',
    origin: 'options',
    upstream: 'http://master.example:8001/live.mp3',
    activeUpstream: 0,
    upstreams: [{ url: 'http://master.example:8001/live.mp3', state: 'active', lastError: null }],
    switches: 0,
    state: 'live',
    stateSince: '2026-01-02T03:04:05.000Z',
    connectedSince: '2026-01-02T03:04:05.000Z',
    lastError: null,
    onDemand: false,
    relayShoutcastMetadata: true,
    listeners: 3,
    peakListeners: 7,
    relays: 0,
    maxListeners: null,
    hidden: false,
    bytesIn: 1000,
    bytesOut: 2500,
    reconnects: 1,
    slowDrops: 2,
    contentType: 'audio/mpeg',
    headers: { 'content-type': 'audio/mpeg', 'ice-audio-info': 'bitrate=128;samplerate=44100;channels=2' },
    stream: { name: 'Master MP3', genre: 'Test', description: 'Desc', url: 'http://example.org/', bitrate: 128, public: false },
    audio: { codec: 'mp3', bitrate: 128, sampleRate: 44100, channels: 2 },
    metadata: { title: 'Artist B - Track Two', fields: { StreamTitle: 'Artist B - Track Two' }, source: 'icy', updatedAt: '2026-01-02T03:04:06.000Z' },
    fallbackMount: null,
    fallbackOverride: false,
    fallbackListeners: 0,
    ...overrides
  }
}

export const ADMIN = { username: 'admin', password: 'hack me: really' }

/** GET with the admin credentials (or others, or none with `auth: null`); the body as text. */
export async function adminGet (url: string, { auth = ADMIN, headers = {} }: { auth?: { username: string, password: string } | null, headers?: Record<string, string> } = {}): Promise<{ status: number, headers: HttpResult['headers'], text: string }> {
  const result = await httpGet(url, { headers, ...(auth !== null && { auth: { user: auth.username, password: auth.password } }) })
  return { status: result.status, headers: result.headers, text: result.body.toString('utf8') }
}
