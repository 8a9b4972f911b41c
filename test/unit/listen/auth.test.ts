// Listener authentication's pure parts: Icecast's htpasswd lines, the URL auth form bodies and answers, the
// listenerAuth options, and `<authentication>` in a `<mount>` of an Icecast XML config.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { FastifyBaseLogger } from 'fastify'
import fc from 'fast-check'
import { htpasswdAllows, htpasswdHash, parseHtpasswd } from '../../../lib/listen/htpasswd.js'
import { HtpasswdFile, MAX_HTPASSWD_BYTES } from '../../../lib/listen/htpasswd-file.js'
import { icecastEscape, listenerAddBody, listenerRemoveBody, readAuthAnswer, type ListenerFields } from '../../../lib/listen/url-auth.js'
import { resolveOptions, resolveRelay } from '../../../lib/options.js'
import { readIcecastConfig } from '../../../lib/config/icecast.js'
import { basicCredentialsOf, hasBasicCredentials, loginAs } from '../../../lib/auth.js'

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex')

test('htpasswd: Icecast\'s lines are read; comments, blank lines and CRLF are skipped; the user is all before the last colon', () => {
  const { users, problems } = parseHtpasswd(`# users\r\nann:${md5('a')}\r\n\r\nb:o:b:${md5('b').toUpperCase()}\nconstructor:${md5('c')}\n`)
  assert.deepEqual([...users], [['ann', md5('a')], ['b:o:b', md5('b')], ['constructor', md5('c')]])
  assert.deepEqual(problems, [])
  assert.ok(htpasswdAllows(users, 'b:o:b', 'b'))
  assert.ok(!htpasswdAllows(users, 'ann', 'b'))
  assert.ok(!htpasswdAllows(users, 'toString', 'x'))
  assert.equal(htpasswdHash('a'), md5('a'))
})

test('htpasswd: Apache\'s formats and lines without a colon are reported with their line, and nobody logs in with them', () => {
  const { users, problems } = parseHtpasswd('no colon here\nap:$apr1$salt$hash\nbc:$2y$05$abcdefghijklmnopqrstuv\nsh:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\ncr:abJnggxhB/yWI\n')
  assert.equal(users.size, 0)
  assert.deepEqual(problems.map((problem) => problem.replace(/: that user.*/, '')), [
    'line 1: no colon between user and password hash',
    'line 2: user "ap": Apache MD5 ($apr1$), not Icecast\'s MD5 hex',
    'line 3: user "bc": bcrypt, not Icecast\'s MD5 hex',
    'line 4: user "sh": SHA-1 ({SHA}), not Icecast\'s MD5 hex',
    'line 5: user "cr": not an MD5 hex digest, not Icecast\'s MD5 hex'
  ])
})

test('htpasswd (property): every user written as Icecast writes it logs in with its password and no other, a byte order mark before the file or not', () => {
  const user = fc.string({ maxLength: 20 }).filter((name) => !/[\r\n]/.test(name) && !name.startsWith('#') && name !== '')
  fc.assert(fc.property(fc.uniqueArray(fc.tuple(user, fc.string({ maxLength: 20 })), { selector: ([name]) => name, maxLength: 8 }), fc.string(), fc.boolean(), (entries, other, bom) => {
    const text = entries.map(([name, password]) => `${name}:${htpasswdHash(password)}\n`).join('')
    const { users, problems } = parseHtpasswd(bom ? `\uFEFF${text}` : text)
    assert.deepEqual(problems, [])
    for (const [name, password] of entries) {
      assert.ok(htpasswdAllows(users, name, password))
      assert.equal(htpasswdAllows(users, name, other), other === password || htpasswdHash(other) === htpasswdHash(password))
    }
  }))
})

test('htpasswd (property): any text parses without throwing, and each user found has an MD5 hex hash', () => {
  fc.assert(fc.property(fc.string({ maxLength: 400 }), (text) => {
    for (const hash of parseHtpasswd(text).users.values()) assert.match(hash, /^[0-9a-f]{32}$/)
  }))
})

test('Basic credentials of a listener: split at the first colon; none without a colon or a Basic header', () => {
  const header = (token: string): string => `Basic ${Buffer.from(token).toString('base64')}`
  assert.deepEqual(basicCredentialsOf(header('ann:pa:ss')), { username: 'ann', password: 'pa:ss' })
  assert.deepEqual(basicCredentialsOf(header(':')), { username: '', password: '' })
  assert.equal(basicCredentialsOf(header('nocolon')), undefined)
  assert.equal(basicCredentialsOf('Bearer abc'), undefined)
  assert.equal(basicCredentialsOf(undefined), undefined)
})

test('a login as the relay user: undefined for another user or none, else whether the password is right', () => {
  const header = (token: string): string => `Basic ${Buffer.from(token).toString('base64')}`
  const relay = { username: 'relay', password: 'pa:ss' }
  assert.equal(loginAs(header('relay:pa:ss'), relay), true)
  assert.equal(loginAs(header('relay:pa:sS'), relay), false)
  assert.equal(loginAs(header('relay:'), relay), false)
  assert.equal(loginAs(header('Relay:pa:ss'), relay), undefined)
  assert.equal(loginAs(header('relay'), relay), undefined)
  assert.equal(loginAs('Basic !!!', relay), undefined)
  assert.equal(loginAs(undefined, relay), undefined)
})

test('loginAs (property): right exactly when the header carries these credentials, as the stream list checks them', () => {
  const user = fc.string({ minLength: 1 }).filter((text) => !text.includes(':'))
  fc.assert(fc.property(user, fc.string(), user, fc.string(), (username, password, givenUser, givenPassword) => {
    const header = `Basic ${Buffer.from(`${givenUser}:${givenPassword}`).toString('base64')}`
    const expected = { username, password }
    const login = loginAs(header, expected)
    assert.equal(login === true, hasBasicCredentials(header, expected))
    assert.equal(login === undefined, givenUser !== username)
  }))
})

const FIELDS: ListenerFields = { server: 'radio.example', port: 8000, client: 7, mount: '/live?x=1', user: 'ann', pass: 'p w', ip: '::1', agent: 'VLC/3.0' }

test('URL auth bodies: Icecast\'s fields in its order, escaped as util_url_escape', () => {
  assert.equal(listenerAddBody(FIELDS, [['ice_x-forwarded-for', '1.2.3.4']]),
    'action=listener_add&server=radio%2eexample&port=8000&client=7&mount=%2flive%3fx%3d1&user=ann&pass=p%20w&ip=%3a%3a1&agent=VLC%2f3%2e0&ice_x-forwarded-for=1%2e2%2e3%2e4')
  assert.equal(listenerRemoveBody(FIELDS, 3600),
    'action=listener_remove&server=radio%2eexample&port=8000&client=7&mount=%2flive%3fx%3d1&user=ann&pass=p%20w&duration=3600&ip=%3a%3a1&agent=VLC%2f3%2e0')
})

test('icecastEscape (property): only letters and digits are kept, and a form decoder gives the text back', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 50 }), (text) => {
    const escaped = icecastEscape(text)
    assert.match(escaped, /^(?:[A-Za-z0-9]|%[0-9a-f]{2})*$/)
    assert.equal(new URLSearchParams(`v=${escaped}`).get('v'), text)
  }))
})

test('URL auth answers: the auth header admits whatever the status; the time limit is read when it is a number', () => {
  const auth = { authHeader: { name: 'icecast-auth-user', value: '1' }, timelimitHeader: 'icecast-auth-timelimit' }
  assert.deepEqual(readAuthAnswer(new Headers({ 'Icecast-Auth-User': '1', 'icecast-auth-timelimit': ' 900 ' }), auth), { admitted: true, timeLimit: 900 })
  assert.deepEqual(readAuthAnswer(new Headers({ 'icecast-auth-user': '0', 'icecast-auth-message': 'banned' }), auth), { admitted: false, message: 'banned' })
  assert.deepEqual(readAuthAnswer(new Headers({ 'icecast-auth-user': '10' }), auth), { admitted: false })
  assert.deepEqual(readAuthAnswer(new Headers([['icecast-auth-user', '0'], ['icecast-auth-user', '1']]), auth), { admitted: true })
  assert.deepEqual(readAuthAnswer(new Headers({ 'icecast-auth-user': '1', 'icecast-auth-timelimit': 'soon' }), auth), { admitted: true, badTimeLimit: 'soon' })
  assert.deepEqual(readAuthAnswer(new Headers({ 'x-ok': 'YES' }), { ...auth, authHeader: { name: 'x-ok', value: 'yes' } }), { admitted: true })
})

test('listenerAuth options: defaults, credentials in the URL, one authenticator, errors that name the field', () => {
  const relay = resolveRelay({ url: 'http://127.0.0.1:8000/a', listenerAuth: { url: { listenerAdd: 'http://us%40r:p%3Ass@127.0.0.1:9/add' } } })
  assert.deepEqual(relay.listenerAuth, {
    url: {
      listenerAdd: { url: new URL('http://127.0.0.1:9/add'), credentials: { username: 'us@r', password: 'p:ss' } },
      authHeader: { name: 'icecast-auth-user', value: '1' },
      timelimitHeader: 'icecast-auth-timelimit',
      headers: [],
      headerPrefix: '',
      timeout: 5,
      onError: 'refuse'
    },
    allowDuplicateUsers: false
  })
  const own = resolveRelay({ url: 'http://127.0.0.1:8000/a', listenerAuth: { url: { listenerAdd: 'http://127.0.0.1:9/', timelimitHeader: 'X-Limit:', authHeader: 'X-Ok:yes', headers: ['X-Forwarded-For'] } } })
  assert.deepEqual([own.listenerAuth?.url?.timelimitHeader, own.listenerAuth?.url?.authHeader, own.listenerAuth?.url?.headers], ['x-limit', { name: 'x-ok', value: 'yes' }, ['x-forwarded-for']])

  const check = (options: unknown, message: RegExp): void => { assert.throws(() => resolveOptions(options), message) }
  check({ listenerAuth: {} }, /invalid option listenerAuth: give one of htpasswd and url/)
  check({ listenerAuth: { htpasswd: '/x', url: { listenerAdd: 'http://127.0.0.1/' } } }, /listenerAuth: give one of/)
  check({ relays: [{ url: 'http://127.0.0.1:1/a', listenerAuth: { url: { listenerAdd: 'ftp://x' } } }] }, /relays\[0\]\.listenerAuth\.url\.listenerAdd/)
  check({ listenerAuth: { url: { listenerAdd: 'http://127.0.0.1/', username: 'u' } } }, /listenerAuth\.url\.password: give both/)
  check({ listenerAuth: { url: { listenerAdd: 'http://127.0.0.1/', authHeader: 'no colon' } } }, /listenerAuth\.url\.authHeader: must be a header line/)
  check({ listenerAuth: { url: { listenerAdd: 'http://127.0.0.1/', headers: ['a&b'] } } }, /listenerAuth\.url\.headers\[0\]/)
  check({ listenerAuth: { url: { listenerAdd: 'http://127.0.0.1/', onError: 'maybe' } } }, /listenerAuth\.url\.onError/)
  check({ authenticate: 'yes' }, /invalid option authenticate/)
  const authenticate = (): boolean => true
  assert.equal(resolveOptions({ authenticate, relays: [{ url: 'http://127.0.0.1:1/a', authenticate }] }).relays[0]?.authenticate, authenticate)
})

test('<authentication> in a relay\'s <mount>: htpasswd and url options as Icecast names them; unknown types and options warned', () => {
  const config = readIcecastConfig(`<icecast>
    <relay><server>127.0.0.1</server><port>8001</port><mount>/a</mount></relay>
    <relay><server>127.0.0.1</server><port>8001</port><mount>/b</mount></relay>
    <relay><server>127.0.0.1</server><port>8001</port><mount>/c</mount></relay>
    <mount><mount-name>/a</mount-name><authentication type="htpasswd">
      <option name="filename" value="/etc/icecast2/listeners"/><option name="allow_duplicate_users" value="1"/>
    </authentication></mount>
    <mount><mount-name>/b</mount-name><authentication type="url">
      <option name="listener_add" value="http://127.0.0.1:9/add"/><option name="listener_remove" value="http://127.0.0.1:9/remove"/>
      <option name="username" value="u"/><option name="password" value="p"/><option name="auth_header" value="icecast-auth-user: 1"/>
      <option name="timelimit_header" value="icecast-auth-timelimit:"/><option name="headers" value="x-forwarded-for, referer"/>
      <option name="header_prefix" value="ice_"/><option name="mount_add" value="http://127.0.0.1:9/m"/><text>hi</text>
    </authentication></mount>
    <mount><mount-name>/c</mount-name><authentication type="ldap"/></mount>
  </icecast>`)
  const [a, b, c] = config.options.relays!
  assert.deepEqual(a?.listenerAuth, { htpasswd: '/etc/icecast2/listeners', allowDuplicateUsers: true })
  assert.deepEqual(b?.listenerAuth, {
    url: {
      listenerAdd: 'http://127.0.0.1:9/add',
      listenerRemove: 'http://127.0.0.1:9/remove',
      username: 'u',
      password: 'p',
      authHeader: 'icecast-auth-user: 1',
      timelimitHeader: 'icecast-auth-timelimit:',
      headers: ['x-forwarded-for', 'referer'],
      headerPrefix: 'ice_'
    }
  })
  assert.equal(c?.listenerAuth, undefined)
  const warnings = config.warnings.join('\n')
  assert.match(warnings, /<option name="mount_add"|<option> #\d+ ignored: the relay has no source clients to tell about/)
  assert.match(warnings, /<text> ignored: not an <option/)
  assert.match(warnings, /<authentication> ignored: type "ldap" is not one this relay knows \(htpasswd, url\): the mount is public/)
  assert.throws(() => readIcecastConfig(`<icecast><relay><server>127.0.0.1</server><port>8001</port><mount>/a</mount></relay>
    <mount><mount-name>/a</mount-name><authentication type="url"><option name="listener_add" value="gopher://x"/></authentication></mount></icecast>`),
  /<mount> <authentication> <option>: /)
})

test('htpasswd file: a directory, a file over 16 MiB and a missing one have no users, each logged once; a change is read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'htpasswd-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const errors: string[] = []
  const log = { error: (_obj: unknown, msg: string) => { errors.push(msg) }, warn: () => {}, info: () => {} } as unknown as FastifyBaseLogger
  assert.equal((await new HtpasswdFile(dir, log).users()).size, 0)
  const huge = join(dir, 'huge')
  writeFileSync(huge, '')
  truncateSync(huge, MAX_HTPASSWD_BYTES + 1)
  assert.equal((await new HtpasswdFile(huge, log).users()).size, 0)
  const path = join(dir, 'users')
  const file = new HtpasswdFile(path, log)
  const [missing, again] = await Promise.all([file.users(), file.users()])
  assert.equal(missing.size + again.size, 0)
  assert.equal((await file.users()).size, 0)
  assert.equal(errors.length, 3, 'the same failure is logged once')
  writeFileSync(path, `ann:${md5('a')}\n`)
  assert.ok(htpasswdAllows(await file.users(), 'ann', 'a'))
  assert.equal(await file.users(), await file.users(), 'an unchanged file is not read again')
})
