// A mount's listener on a fake socket that records what it is written, for the unit tests of the fan-out
// (lib/mount/): which bytes each listener got, in how many writes.
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { Listener, type EndReason, type Framer } from '../../lib/mount/listener.js'

export interface RecordingInit {
  id: number
  /** what its ending calls, e.g. `mount.detach` */
  onEnd?: (listener: Listener, reason: EndReason) => void
  framer?: Framer | undefined
  /** its socket is a TLS socket (the mount writes to it in a tier of its own) */
  encrypted?: boolean
  /** large unless given: no test of the bytes should see it dropped as slow */
  queueSize?: number
}

export interface RecordingListener {
  listener: Listener
  /** one entry per system call a real socket would make: a corked run of writes (a start) is one */
  writes: Buffer[]
}

export function recordingListener (init: RecordingInit): RecordingListener {
  const writes: Buffer[] = []
  let corked: Buffer[] | undefined
  const socket = Object.assign(new EventEmitter(), {
    encrypted: init.encrypted === true,
    writableLength: 0,
    destroyed: false,
    // a write's callback at once: a real socket calls it once the write is done, on a later turn
    write (chunk: Buffer, done?: (error?: Error | null) => void) {
      (corked ?? writes).push(chunk)
      done?.(null)
    },
    cork () { corked = [] },
    uncork () { if (corked !== undefined) writes.push(Buffer.concat(corked)); corked = undefined },
    end () {},
    once () {},
    setTimeout () {},
    destroy () {}
  })
  const listener = new Listener({
    id: init.id,
    socket: socket as unknown as Socket,
    ip: '127.0.0.1',
    userAgent: '',
    queueSize: init.queueSize ?? 1 << 30,
    framer: init.framer,
    onEnd: init.onEnd ?? (() => {}),
    ending: new Set()
  })
  return { listener, writes }
}
