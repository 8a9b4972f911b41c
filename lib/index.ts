import { fastifyIcecastRelay } from './plugin.js'

export { fastifyIcecastRelay }
export default fastifyIcecastRelay
export type { Authenticate, ListenerAuthDefinition, UrlAuthDefinition } from './options.js'
export type { HlsOrigin, MachineLink } from './options.js'
export type { HlsOption, HlsSettings } from './options.js'
export type { RelayDefinition, UpstreamDefinition, RelayPluginOptions, Limits, MasterDefinition, RelayAuth, Credentials, MountSettings } from './options.js'
export type {
  RelayRegistry, RelayEventListener, ManualMetadata, AddOptions, MasterStatus, ListenerInfo
} from './relay/decorator.js'
// Many machines
export type { NodeCandidate, SelectNode, RedirectOptions } from './options.js'
export type { SlaveStatus } from './relay/decorator.js'
export type { RelayState, RelayMetadata } from './relay/extension.js'
export type { RelayStatus, RelayEvents, MoveReason, UpstreamStatus, UpstreamState } from './relay/relay.js'
export type { EndReason } from './mount/listener.js'
export type { RelayError } from './errors.js'
export type { StreamInfo } from './mount/headers.js'
export * as errors from './errors.js'
