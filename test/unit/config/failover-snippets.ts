// Relays with several upstreams as the real servers' docs write them, adapted to loopback: each snippet says
// where it comes from and what was changed. The CLI's integration tests serve them with real servers' ports.

/**
 * Icecast 2.5 (xiph/Icecast-Server, conf/icecast.xml.in, 2.5.0-rc2): "Relay with multiple upstream servers and
 * default settings". Changed: master0/1/2.example.org are 127.0.0.2/3/4 (or the given hosts), the ports are the
 * given ones (8000 for the default, 8080 for the third), and it is not commented out.
 */
export function icecast25Upstreams (ports = { default: 8000, third: 8080 }, hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4']): string {
  return `<relay>
    <local-mount>/different.ogg</local-mount>
    <on-demand>false</on-demand>

    <upstream type="normal">
        <server>${hosts[0]}</server>
    </upstream>
    <upstream type="normal">
        <server>${hosts[1]}</server>
    </upstream>
    <upstream type="normal">
        <server>${hosts[2]}</server>
        <port>${ports.third}</port>
    </upstream>
    <upstream type="default">
        <port>${ports.default}</port>
        <mount>/example.ogg</mount>
    </upstream>
</relay>
`
}

/** The relay `icecast25Upstreams()` is, with its default hosts and ports: each upstream's missing fields the default's. */
export const ICECAST_25_UPSTREAMS_RELAY = {
  localMount: '/different.ogg',
  onDemand: false,
  upstreams: [
    { server: '127.0.0.2', port: 8000, mount: '/example.ogg' },
    { server: '127.0.0.3', port: 8000, mount: '/example.ogg' },
    { server: '127.0.0.4', port: 8080, mount: '/example.ogg' }
  ],
  failback: false
}

/** Icecast 2.5 (conf/icecast.xml.in): "Basic relay with one upstream server", as it is but for the comment markers. */
export const ICECAST_25_URI = `<relay>
    <local-mount>/different.ogg</local-mount>
    <on-demand>false</on-demand>

    <upstream type="normal">
        <uri>http://localhost:8080/example.ogg</uri>
        <relay-shoutcast-metadata>false</relay-shoutcast-metadata>
    </upstream>
</relay>
`

/** Icecast 2.5 (conf/icecast.xml.in): "Relays can also go into a <mount type="normal"> section"; master0 is 127.0.0.2. */
export const ICECAST_25_MOUNT_RELAY = `<mount type="normal">
    <mount-name>/relay_example.ogg</mount-name>
    <relay>
        <upstream type="normal">
            <uri>http://127.0.0.2:8000/example.ogg</uri>
        </upstream>
    </relay>
</mount>
`

/**
 * icecast-kh (karlheyes/icecast-kh, doc/icecast2_config_file.html, "Specific Mountpoint Relay"). Changed: the host
 * master1 is 127.0.0.2 and its mount "joe" is "/joe" (kh sends it as it is; a request path starts with a slash),
 * and a second host (127.0.0.3, no priority) is added, so that the relay has two.
 */
export const KH_HOST = `<relay>
    <local-mount>/different.ogg</local-mount>
    <server>127.0.0.1</server>
    <port>8001</port>
    <mount>/example.ogg</mount>
    <http-headers>
            <header name="Custom-header1" value="some-value" />
            <header name="Custom-header2" value="some-other-value" />
    </http-headers>
    <host>
        <server>127.0.0.2</server>
        <port>8000</port>
        <mount>/joe</mount>
        <tls>yes</tls>
        <priority>3</priority>
    </host>
    <host>
        <server>127.0.0.3</server>
    </host>
    <enable>1</enable>
    <username>joe</username>
    <password>soap</password>
    <relay-shoutcast-metadata>0</relay-shoutcast-metadata>
    <on-demand>1</on-demand>
</relay>
`

/**
 * icecast-kh (doc/icecast2_config_file.html): the shortened listing, "3 hosts each have icecast on port 8000 with
 * same mountpoint". Changed: hosts a.b.c.d, e.f.g.h, s.t.u.v are the given ones (127.0.0.2/3/4), the port is the
 * given one, and priorities may be given to the hosts (the doc's has none).
 */
export function khShortened (port = 8000, hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4'], priorities: Array<number | undefined> = []): string {
  const priority = (i: number): string => priorities[i] === undefined ? '' : `\n         <priority>${priorities[i]}</priority>`
  const host = (server: string, i: number): string => `
      <host>
         <server>${server}</server>${priority(i)}
      </host>`
  return `<relay>
      <local-mount>/stream</local-mount>
      <retry-delay>60</retry-delay>
      <port>${port}</port>
      <mount>/feed</mount>${hosts.map(host).join('')}
  </relay>
`
}

/**
 * Icecast 2.5 (conf/icecast.xml.in, "Normal mounts"): the fallback elements of /example-complex.ogg, on the mount
 * of a relay; the other elements of that example here stand for the ones a relay ignores.
 */
export const FALLBACK_MOUNT = `<mount type="normal">
    <mount-name>/different.ogg</mount-name>
    <max-listeners>1</max-listeners>
    <fallback-mount>/example2.ogg</fallback-mount>
    <fallback-override>true</fallback-override>
    <fallback-when-full>true</fallback-when-full>
</mount>
`
