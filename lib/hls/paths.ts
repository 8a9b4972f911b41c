import { percentDecoded } from '../http.js'

/**
 * Whether the URL writes the last segment of the decoded `path` after a slash of its own. The listener route
 * decodes every `%XX` of a path, `%2F` too (a mount `/a/b` is also `/a%2Fb`); an HLS resource's name must
 * still follow a real slash, since a player resolves the playlist's relative URIs against the URL's last one:
 * `/live%2Findex.m3u8` would name segments `/0.mp3`, outside the mount.
 */
export function nameAfterSlash (url: string, path: string): boolean {
  const queryAt = url.indexOf('?')
  const written = queryAt === -1 ? url : url.slice(0, queryAt)
  return percentDecoded(written.slice(written.lastIndexOf('/') + 1)) === path.slice(path.lastIndexOf('/') + 1)
}

/**
 * The mount an HLS playlist's URL names as a listener's URL would: its path without the last segment
 * (`index.m3u8`), and its query. An auth server is told this, as Icecast tells it a listener's raw URL.
 */
export function mountUrlOf (url: string): string {
  const queryAt = url.indexOf('?')
  const written = queryAt === -1 ? url : url.slice(0, queryAt)
  return written.slice(0, written.lastIndexOf('/')) + (queryAt === -1 ? '' : url.slice(queryAt))
}
