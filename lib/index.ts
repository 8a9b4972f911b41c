import { fastifyIcecastRelay } from './plugin.js'

export { fastifyIcecastRelay }
export default fastifyIcecastRelay
export type { RelayDefinition, RelayPluginOptions, Limits, MasterDefinition, RelayAuth, Credentials } from './options.js'
export type { RelayRegistry, ManualMetadata, AddOptions, MasterStatus, ListenerInfo } from './relay/registry.js'
export type { RelayState, RelayStatus, RelayEvents, RelayMetadata } from './relay/relay.js'
export type { RelayError } from './errors.js'
export type { StreamInfo } from './mount/headers.js'
export * as errors from './errors.js'
