// icecast-kh's <master> block (src/cfgfile.c `_parse_master`): the root's master-* settings under short names.
// kh keeps one master: a second block, like a root element after a block, sets the same fields again.
import type { Reader } from './reader.js'
import { NOT_PER_RELAY } from './relay.js'
import { childrenOf, flagOf, type XmlChild } from './xml.js'

/** A block child and the root element kh reads it as. */
const ROOT_NAME: Record<string, string> = {
  server: 'master-server',
  port: 'master-server-port',
  'ssl-port': 'master-ssl-port',
  username: 'master-username',
  password: 'master-password',
  interval: 'master-update-interval',
  redirect: 'master-redirect'
}

export interface MasterBlock {
  /** the settings, named as the root's elements (their paths stay the block's, for messages) */
  fields: XmlChild[]
  /** kh's `<on-demand>` here is its `<relays-on-demand>` */
  onDemand: boolean | undefined
}

export function readMasterBlock (reader: Reader, block: XmlChild): MasterBlock {
  const fields: XmlChild[] = []
  let onDemand: boolean | undefined
  for (const child of childrenOf(block.node, `${block.path} `)) {
    const rootName = ROOT_NAME[child.name]
    if (rootName !== undefined) fields.push({ ...child, name: rootName })
    else if (child.name === 'on-demand') onDemand = flagOf(child)
    // kh's default: the master's credentials go with its relays, as they always do here
    else if (child.name === 'relay-auth' && flagOf(child)) continue
    else if (child.name === 'relay-auth') reader.ignore(child, 'the master\'s relays always send its credentials')
    else if (child.name === 'bind') reader.ignore(child, 'upstream connections are not bound to a local address')
    else if (NOT_PER_RELAY[child.name] !== undefined) reader.ignore(child, NOT_PER_RELAY[child.name]!)
    else reader.skip(child)
  }
  return { fields, onDemand }
}
