import assert from 'node:assert/strict'
import { readIcecastConfig } from '../../../lib/config/icecast.js'

/** Each config is refused as invalid, with a message that matches its pattern (naming the element at fault). */
export function assertInvalidConfigs (cases: ReadonlyArray<[xml: string, message: RegExp]>): void {
  for (const [xml, message] of cases) {
    assert.throws(() => readIcecastConfig(xml), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FST_ICECAST_RELAY_INVALID_CONFIG', xml)
      assert.match(error.message, message, xml)
      return true
    })
  }
}
