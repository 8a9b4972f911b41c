// A real nginx (Debian's `nginx`) with proxy_cache in front of an app, as a CDN edge would be: started in the
// foreground on a loopback port with a configuration, pid file, logs and cache of its own in a temp dir.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, makeTempDir, removeTempDir, spawnTracked, waitFor, httpGet, type Exit } from './procs.js'
import { assertTools } from './tools.js'

export interface NginxCache {
  port: number
  /** http://127.0.0.1:port + path */
  url: (path: string) => string
  /** the temp dir (configuration, logs, cache; removed by stop()) */
  dir: string
  /** the access log: one line per request, `$upstream_cache_status $status $request_uri` */
  accessLog: () => string
  /** nginx's error log and anything it printed */
  logs: () => string
  stop: () => Promise<Exit>
}

export interface NginxCacheOptions {
  /** the app's origin, e.g. http://127.0.0.1:1234 */
  upstream: string
  /** ms to wait for nginx to answer (default 5000) */
  startTimeoutMs?: number
}

/**
 * The configuration: every request goes to the app through one cache that keeps what the app's
 * Cache-Control allows (no proxy_cache_valid: nginx stores nothing the app does not call cacheable), and
 * `proxy_cache_lock` lets one request per URL (but playlists) through while the others wait for it, as a
 * CDN collapses them.
 * The master runs as root here and its workers as nobody (nginx's default user): the temp dir is theirs too.
 */
function nginxConf (o: { port: number, dir: string, upstream: string }): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log warn;
events { worker_connections 1024; }
http {
  log_format cachelog '$upstream_cache_status $status $request_uri';
  access_log ${o.dir}/access.log cachelog;
  client_body_temp_path ${o.dir}/body;
  proxy_temp_path ${o.dir}/proxy;
  fastcgi_temp_path ${o.dir}/fastcgi;
  uwsgi_temp_path ${o.dir}/uwsgi;
  scgi_temp_path ${o.dir}/scgi;
  proxy_cache_path ${o.dir}/cache levels=1:2 keys_zone=edge:10m max_size=256m inactive=10m use_temp_path=off;
  server {
    listen 127.0.0.1:${o.port};
    server_name localhost;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_cache edge;
    proxy_cache_revalidate on;
    proxy_cache_use_stale updating;
    location / {
      proxy_pass ${o.upstream};
      proxy_cache_lock on;
      proxy_cache_lock_timeout 10s;
    }
    # Playlists are not locked: nginx queues the requests for a locked URL whose answer may not be stored
    # (the relay's index.m3u8, which starts a session each) one behind the other, up to 500 ms each.
    location ~ \\.m3u8$ {
      proxy_pass ${o.upstream};
    }
  }
}
`
}

const readOr = (file: string): string => { try { return readFileSync(file, 'utf8') } catch { return '' } }

/** Starts nginx in front of `upstream`; resolves once it answers (any status but a 502 from the edge itself). */
export async function startNginxCache (opts: NginxCacheOptions): Promise<NginxCache> {
  assertTools('nginx')
  const dir = makeTempDir('nginx')
  chmodSync(dir, 0o777) // the workers (nobody) write the cache and temp files here
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConf({ port, dir, upstream: opts.upstream.replace(/\/+$/, '') }))
  const proc = spawnTracked('nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { cwd: dir })
  const logs = (): string => `${readOr(join(dir, 'error.log'))}\n--- nginx output ---\n${proc.output()}`
  const url = (path: string): string => `http://127.0.0.1:${port}${path}`
  const died = proc.onExit.then((x) => { throw new Error(`nginx exited (code ${x.code}, signal ${x.signal})\n${logs()}`) })
  died.catch(() => {})
  try {
    await Promise.race([waitFor(async () => (await httpGet(url('/'))).status > 0, {
      timeoutMs: opts.startTimeoutMs ?? 5000, message: `nginx on port ${port}`
    }), died])
  } catch (e) {
    await proc.stop({ signal: 'SIGKILL' })
    removeTempDir(dir)
    throw e
  }
  let finalAccess: string | undefined
  return {
    port,
    url,
    dir,
    accessLog: () => finalAccess ?? readOr(join(dir, 'access.log')),
    logs,
    async stop () {
      // SIGQUIT: a graceful stop (SIGTERM is nginx's fast one); the workers go with the master
      const r = await proc.stop({ signal: 'SIGQUIT', graceMs: 3000 })
      finalAccess ??= readOr(join(dir, 'access.log'))
      removeTempDir(dir)
      return r
    }
  }
}
