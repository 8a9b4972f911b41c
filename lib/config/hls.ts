// `<hls>`: an element of this relay's own (Icecast has none) for its HLS. At the top level it is the `hls`
// option (every MP3 and AAC mount); in a `<mount>`, the `hls` of the relay of this config serving that mount.
// `<hls>1</hls>` (or empty) is on with the defaults, `<hls>0</hls>` off; with `<segment-seconds>`,
// `<window-segments>` or `<cors>` in it, on with those settings.
import type { HlsOption } from '../options.js'
import { count, Reader, text } from './reader.js'
import { childrenOf, flagOf, type XmlChild } from './xml.js'

/** The words of a switch that is off: `<cors>` sends no Access-Control-Allow-Origin then. */
const OFF = /^(?:0|false|no|off)$/i

function corsOf (child: XmlChild): string | false {
  return OFF.test(text(child)) ? false : text(child)
}

/** `<hls>` as the `hls` option at `at` takes it; the plugin's schema checks the values, naming the element. */
export function readHls (reader: Reader, hls: XmlChild, at: string): HlsOption {
  const children = childrenOf(hls.node, `${hls.path} `)
  if (children.length === 0) return text(hls) === '' || flagOf(hls)
  const settings: Record<string, unknown> = {}
  for (const child of children) {
    switch (child.name) {
      case 'segment-seconds': reader.set(settings, 'segmentSeconds', `${at}.segmentSeconds`, child, count(child)); break
      case 'window-segments': reader.set(settings, 'windowSegments', `${at}.windowSegments`, child, count(child)); break
      case 'cors': reader.set(settings, 'cors', `${at}.cors`, child, corsOf(child)); break
      default: reader.skip(child)
    }
  }
  return settings as HlsOption
}
