// The two snippets of Icecast's relaying doc (../shared/seed/relaying.md), character for character.
import { existsSync, readFileSync } from 'node:fs'

export const SEED_DOC = new URL('../../../../shared/seed/relaying.md', import.meta.url)

export const MASTER_SNIPPET = `<master-server>192.168.1.11</master-server>
<master-server-port>8001</master-server-port>
<master-update-interval>120</master-update-interval>
<master-password>hackme</master-password>
`

export const RELAY_SNIPPET = `<relay>
    <server>192.168.1.11</server>
    <port>8001</port>
    <mount>/example.ogg</mount>
    <local-mount>/different.ogg</local-mount>
    <relay-shoutcast-metadata>0</relay-shoutcast-metadata>
</relay>
`

/** The XML blocks of the seed doc, or undefined when the shared folder is not beside the repository. */
export function seedDocSnippets (): string[] | undefined {
  if (!existsSync(SEED_DOC)) return undefined
  const doc = readFileSync(SEED_DOC, 'utf8')
  return [...doc.matchAll(/\{% highlight xml %\}\n([\s\S]*?)\{% endhighlight %\}/g)].map(([, block]) => block!)
}
