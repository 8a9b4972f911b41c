// icecast-kh answers /admin/streamlist.txt with its list labelled `Content-Type: text/html`: a slave takes
// that list, and still refuses an HTML page (a login or error page) for one.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isHtmlPage } from '../../../lib/master/fetch.js'
import { formatStreamlist } from '../../../lib/master/streamlist.js'
import { relayApp, waitForState, waitUntil } from '../../helpers/app.js'
import { fakeMaster } from '../../helpers/fake-master.js'

const htmlType = fc.tuple(fc.constantFrom('text/html', 'Text/HTML', ' text/html'), fc.constantFrom('', '; charset=utf-8', ';charset=ISO-8859-1'))
  .map(([type, params]) => type + params)
const mountPath = fc.stringMatching(/^\/[a-z0-9._\-/]{1,30}$/)

test('a stream list labelled text/html is a list: its lines are paths, never markup', () => {
  fc.assert(fc.property(htmlType, fc.array(mountPath, { maxLength: 20 }), (type, paths) => {
    assert.equal(isHtmlPage(type, formatStreamlist(paths)), false)
  }))
})

test('a body labelled text/html that opens with markup is a page, whatever follows', () => {
  fc.assert(fc.property(htmlType, fc.constantFrom('', ' ', '\r\n', '\n\t'), fc.string(), (type, space, rest) => {
    assert.equal(isHtmlPage(type, `${space}<${rest}`), true)
  }))
})

test('only an HTML label makes markup a page: text/plain bodies are left to the list parser', () => {
  fc.assert(fc.property(fc.constantFrom(undefined, 'text/plain', 'text/plain; charset=utf-8', 'text/htmlx', 'text/xml'), fc.string(), (type, body) => {
    assert.equal(isHtmlPage(type, `<${body}`), false)
  }))
})

test('a master answering its list as text/html (icecast-kh) is mirrored; an HTML page in its place is refused and the list kept', async (t) => {
  const master = await fakeMaster({ contentType: 'text/html', body: '/kh.mp3\r\n' })
  master.mounts.add('/kh.mp3')
  const { app } = await relayApp({ master: { server: '127.0.0.1', port: master.port, password: 'p', updateInterval: 0.1 } })
  t.after(async () => { await app.close(); await master.close() })
  await waitForState(app, '/kh.mp3', 'live')

  master.answer = { contentType: 'text/html; charset=utf-8', body: '<!DOCTYPE html>\n<html><body>\n/login\n</body></html>' }
  await waitUntil(() => app.relay.masters()[0]!.lastError?.code === 'FST_ICECAST_RELAY_NOT_STREAMLIST', 5000, 'the page refused')
  assert.match(app.relay.masters()[0]!.lastError!.message, /an HTML page \(text\/html; charset=utf-8\)/)
  assert.deepEqual(app.relay.masters()[0]!.mounts, ['/kh.mp3'], 'the last good list is kept')
  assert.equal(app.relay.get('/kh.mp3')!.state, 'live')
  assert.equal(app.relay.get('/login'), undefined, 'a path in the page is no mount')
})
