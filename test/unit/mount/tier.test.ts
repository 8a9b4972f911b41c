// A mount's tier of listeners (lib/mount/tier.ts): a listener that joins from inside a flush (a hook run by a
// listener's leaving) holds none of what that flush sends, and gets only what comes after.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Listener } from '../../../lib/mount/listener.js'
import { Tier } from '../../../lib/mount/tier.js'

function recorded (): { listener: Listener, got: string[] } {
  const got: string[] = []
  const listener = { ended: false, send (chunk: Buffer) { got.push(chunk.toString()) } } as unknown as Listener
  return { listener, got }
}

test('tier: a listener that joins during a flush gets what comes after it, not the flush\'s chunks again', () => {
  const tier = new Tier()
  const first = recorded()
  tier.listeners.add(first.listener)
  tier.push(Buffer.from('a'))
  tier.push(Buffer.from('b'))
  const late = recorded()
  tier.flush((chunk) => {
    for (const listener of tier.listeners) listener.send(chunk)
    // its burst, sent by the attach, held 'ab'
    tier.join(late.listener)
  })
  tier.push(Buffer.from('c'))
  tier.flush((chunk) => { for (const listener of tier.listeners) listener.send(chunk) })
  assert.deepEqual(first.got, ['ab', 'c'])
  assert.deepEqual(late.got, ['c'])
})
