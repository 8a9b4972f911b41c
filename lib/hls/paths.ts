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
