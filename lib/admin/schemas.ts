import { Type } from '@sinclair/typebox'
import { ListenerAuthSchema, MAX_UPSTREAMS, Mount, NetworkUpstreamSchema, RelayDefinitionSchema } from '../options.js'

export const MountQuery = Type.Object({ mount: Mount })
export const OptionalMountQuery = Type.Object({ mount: Type.Optional(Mount) })
export const KillClientQuery = Type.Object({ mount: Mount, id: Type.Integer({ minimum: 0 }) })
export const MoveClientsQuery = Type.Object({ mount: Mount, destination: Mount })
export const MetadataQuery = Type.Object({
  mount: Mount,
  mode: Type.String(),
  song: Type.Optional(Type.String({ maxLength: 4096 })),
  title: Type.Optional(Type.String({ maxLength: 4096 })),
  artist: Type.Optional(Type.String({ maxLength: 4096 })),
  url: Type.Optional(Type.String({ maxLength: 4096 }))
})

/**
 * A relay added over HTTP names no local file and no function: no `{ file }` upstream, `intro`, `dumpFile` or
 * htpasswd file, since whoever holds the admin password would otherwise read or write any file the app may
 * (a host app's own `app.relay.add` may set them), and no `authenticate`, which JSON cannot carry.
 */
export const RelayBody = Type.Composite([
  Type.Omit(RelayDefinitionSchema, ['authenticate', 'intro', 'dumpFile', 'upstreams', 'listenerAuth']),
  Type.Object({
    upstreams: Type.Optional(Type.Array(NetworkUpstreamSchema, { minItems: 1, maxItems: MAX_UPSTREAMS })),
    listenerAuth: Type.Optional(Type.Omit(ListenerAuthSchema, ['htpasswd'], { additionalProperties: false }))
  })
], { additionalProperties: false })

/** A relay's status; more fields may come (they are passed on as they are). */
export const RelayStatusSchema = Type.Object({
  localMount: Type.String(),
  upstream: Type.String(),
  activeUpstream: Type.Integer(),
  upstreams: Type.Array(Type.Object({ url: Type.String(), state: Type.String() }, { additionalProperties: true })),
  switches: Type.Integer(),
  state: Type.String(),
  listeners: Type.Integer(),
  peakListeners: Type.Integer(),
  bytesIn: Type.Integer(),
  bytesOut: Type.Integer(),
  reconnects: Type.Integer(),
  slowDrops: Type.Integer()
}, { additionalProperties: true })
