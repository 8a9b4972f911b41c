import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readIcecastConfig } from '../../../lib/config/icecast.js'

const RELAY = '<relay><port>8000</port><mount>/live.mp3</mount></relay>'

test('each setting of a <mount> goes to the mounts option under its name, as the relay options name it', () => {
  const { options, warnings } = readIcecastConfig(`${RELAY}<mount>
    <mount-name>/live.mp3</mount-name>
    <max-listeners>5</max-listeners>
    <max-listener-duration>3600</max-listener-duration>
    <hidden>1</hidden>
    <public>0</public>
    <stream-name>Name &amp; co</stream-name>
    <stream-description>About</stream-description>
    <stream-url>https://radio.example/</stream-url>
    <genre>Jazz</genre>
    <burst-size>8192</burst-size>
    <mp3-metadata-interval>4096</mp3-metadata-interval>
    <charset>ISO8859-1</charset>
  </mount>`)
  assert.deepEqual(warnings, [])
  assert.deepEqual(options.mounts, {
    '/live.mp3': {
      maxListeners: 5,
      maxListenerDuration: 3600,
      hidden: true,
      public: false,
      streamName: 'Name & co',
      streamDescription: 'About',
      streamUrl: 'https://radio.example/',
      genre: 'Jazz',
      burstSize: 8192,
      metaint: 4096,
      charset: 'ISO8859-1'
    }
  })
  assert.deepEqual(options.relays, [{ server: '127.0.0.1', port: 8000, mount: '/live.mp3' }])
})

test('Icecast\'s "not set" values set nothing, so the default mount still applies; 2.5/kh words for switches; <no-yp>', () => {
  const { options } = readIcecastConfig(`${RELAY}
    <mount><mount-name>/live.mp3</mount-name><max-listeners>-1</max-listeners><burst-size>-1</burst-size>
      <max-listener-duration>0</max-listener-duration><public>-1</public><mp3-metadata-interval>-1</mp3-metadata-interval><hidden>yes</hidden></mount>
    <mount><mount-name>/a</mount-name><no-yp>1</no-yp></mount>
    <mount><mount-name>/b</mount-name><no-yp>0</no-yp><public>true</public></mount>
    <mount type="default"><max-listeners>9</max-listeners><public>7</public></mount>`)
  assert.deepEqual(options.mounts, { '/live.mp3': { hidden: true }, '/a': { public: false }, '/b': { public: true } })
  assert.deepEqual(options.mountDefaults, { maxListeners: 9, public: true })
})

test('the first <mount> of a name wins, as in Icecast; a default with a <mount-name> pattern and a nameless normal mount are ignored', () => {
  const { options, warnings } = readIcecastConfig(`${RELAY}
    <mount><mount-name>/live.mp3</mount-name><genre>First</genre></mount>
    <mount><mount-name>/live.mp3</mount-name><genre>Second</genre></mount>
    <mount type="default"><genre>Default</genre></mount>
    <mount type="default"><genre>Later default</genre></mount>
    <mount type="default"><mount-name>/live*</mount-name><genre>Pattern</genre></mount>
    <mount><genre>Nameless</genre></mount>`)
  assert.deepEqual(options.mounts, { '/live.mp3': { genre: 'First' } })
  assert.deepEqual(options.mountDefaults, { genre: 'Default' })
  assert.deepEqual(warnings, [
    '<mount> #2 ignored: an earlier <mount> of /live.mp3 applies (Icecast takes the first)',
    '<mount> #4 ignored: an earlier <mount> type="default" applies (Icecast takes the first)',
    '<mount> #5 ignored: a <mount-name> in a <mount type="default"> is a pattern of names, which is not read: only a default without one, for every mount, applies',
    '<mount> #6 ignored: it has no <mount-name>'
  ])
})

test('a <mount> no relay serves: its settings kept for a relay of that name, told unless a master may bring it', () => {
  const alone = readIcecastConfig('<mount><mount-name>/later.mp3</mount-name><hidden>1</hidden></mount>')
  assert.deepEqual(alone.options.mounts, { '/later.mp3': { hidden: true } })
  assert.deepEqual(alone.warnings, ['<mount> (/later.mp3): no relay of this config serves it; its settings wait for a relay of that name'])
  const withMaster = readIcecastConfig(`<master-server>127.0.0.1</master-server><master-server-port>8001</master-server-port>
    <master-password>p</master-password><mount><mount-name>/later.mp3</mount-name><hidden>1</hidden></mount>`)
  assert.deepEqual(withMaster.warnings, [])
  assert.deepEqual(withMaster.options.mounts, { '/later.mp3': { hidden: true } })
})

test('the elements of a <mount> a relay does not apply are warned, each with its reason', () => {
  const elements = ['username', 'password', 'cluster-password', 'fallback-when-full', 'no-mount', 'queue-size', 'source-timeout',
    'on-connect', 'on-disconnect', 'bitrate', 'type', 'subtype', 'http-headers', 'authentication', 'dump-file', 'intro', 'colour']
  const { warnings, ignored } = readIcecastConfig(`${RELAY}<mount><mount-name>/live.mp3</mount-name>${elements.map((name) => `<${name}>1</${name}>`).join('')}</mount>`)
  assert.equal(warnings.length, elements.length)
  for (const [i, name] of elements.entries()) assert.match(warnings[i]!, new RegExp(`^<mount> <${name}> ignored: \\S`))
  assert.equal(warnings.at(-1), '<mount> <colour> ignored: not an element this relay knows')
  assert.deepEqual(ignored, warnings)
})

test('a bad setting fails naming its element', () => {
  const cases: Array<[string, RegExp]> = [
    ['<mount><mount-name>/a</mount-name><burst-size>big</burst-size></mount>', /^<mount> <burst-size>: "big" is not an integer/],
    ['<mount><mount-name>/a</mount-name><burst-size>99999999</burst-size></mount>', /^<mount> <burst-size>: Expected integer to be less or equal to 16777216$/],
    ['<mount><mount-name>/a</mount-name><mp3-metadata-interval>0</mp3-metadata-interval></mount>', /^<mount> <mp3-metadata-interval>: Expected integer to be greater or equal to 1$/],
    ['<mount><mount-name>/a</mount-name><hidden>maybe</hidden></mount>', /^<mount> <hidden>: "maybe" is not an integer/],
    ['<mount><mount-name>/a</mount-name><charset>utf-16</charset></mount>', /^<mount> <charset>: utf-16 is not an ASCII-compatible encoding/],
    ['<mount type="default"><max-listeners>x</max-listeners></mount>', /^<mount> <max-listeners>: "x" is not an integer/],
    ['<mount type="default"><mp3-metadata-interval>0</mp3-metadata-interval></mount>', /^<mount> <mp3-metadata-interval>: Expected integer to be greater/],
    ['<mount><mount-name>live</mount-name><hidden>1</hidden></mount>', /^<mount> <mount-name>: not a local mount/],
    ['<mount><mount-name>__proto__</mount-name><hidden>1</hidden></mount>', /^<mount> <mount-name>: not a local mount/],
    ['<mount><mount-name>/a</mount-name><max-listener-duration>99999999999</max-listener-duration></mount>', /^<mount> <max-listener-duration>: "99999999999" is not an integer/],
    ['<mount><mount-name>/a</mount-name><stream-url>' + 'u'.repeat(1025) + '</stream-url></mount>', /^<mount> <stream-url>: Expected string length less or equal to 1024$/],
    ['<mount><mount-name>/a</mount-name><stream-name>two\nlines</stream-name></mount>', /^<mount> <stream-name>: Expected string to match/]
  ]
  for (const [xml, message] of cases) {
    assert.throws(() => readIcecastConfig(xml), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FST_ICECAST_RELAY_INVALID_CONFIG', xml)
      assert.match(error.message, message, xml)
      return true
    })
  }
})

test('the ignored list names every element with no meaning for a relay, with its reason; the warnings only those a user may miss', () => {
  const { warnings, ignored } = readIcecastConfig(`<limits><threadpool>5</threadpool><header-timeout>15</header-timeout></limits>
    <listen-socket><port>8000</port><shoutcast-mount>/sc</shoutcast-mount><so-sndbuf>1</so-sndbuf></listen-socket>
    <paths><webroot>/srv/web</webroot><logdir>/var/log</logdir><pidfile>/run/x</pidfile><adminroot>/a</adminroot>
      <alias source="/" destination="/status.xsl"/><allow-ip>/etc/allow</allow-ip><ssl-certificate>/c.pem</ssl-certificate></paths>
    <directory><yp-url>http://yp</yp-url></directory><fileserve>1</fileserve><mime-types>/etc/mime.types</mime-types>
    <http-headers><header name="a" value="b"/></http-headers>`)
  assert.deepEqual(warnings, [
    '<paths> <ssl-certificate> ignored: no <listen-socket> has <ssl>1</ssl>, and TLS told apart from plain HTTP on one port is not done'
  ])
  assert.deepEqual(ignored.map((line) => line.replace(/ ignored: .*/, '')), [
    '<limits> <threadpool>', '<limits> <header-timeout>', '<listen-socket> <shoutcast-mount>', '<listen-socket> <so-sndbuf>',
    '<paths> <logdir>', '<paths> <pidfile>', '<paths> <adminroot>', '<paths> <alias>', '<paths> <allow-ip>',
    '<directory>', '<fileserve>', '<mime-types>', '<http-headers>',
    // judged once every socket is read: a certificate no socket asks for
    '<paths> <ssl-certificate>'
  ])
  for (const line of ignored) assert.match(line, / ignored: \S.{8,}/)
})
