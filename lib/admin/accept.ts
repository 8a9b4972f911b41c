/** How much an Accept header wants `type`: the q of the most specific range naming it, and that specificity. */
function acceptance (ranges: ReadonlyArray<{ range: string, q: number }>, type: string): { q: number, specificity: number } {
  const [main] = type.split('/')
  let best = { q: 0, specificity: -1 }
  for (const { range, q } of ranges) {
    const specificity = range === type ? 2 : range === `${main}/*` ? 1 : range === '*/*' ? 0 : -1
    if (specificity > best.specificity) best = { q, specificity }
  }
  return best
}

/**
 * Whether an Accept header ranks JSON above XML. Icecast answers XML, so XML wins a tie and a missing
 * header; JSON named outright beats XML reached only through a wildcard (`application/json, *\/*`).
 */
export function prefersJson (accept: string | undefined): boolean {
  const ranges = (accept ?? '').split(',').map((part) => {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase())
    const q = params.find((p) => p.startsWith('q='))
    return { range, q: q === undefined ? 1 : Number(q.slice(2)) || 0 }
  })
  const json = acceptance(ranges, 'application/json')
  const xml = [acceptance(ranges, 'text/xml'), acceptance(ranges, 'application/xml')]
    .reduce((a, b) => (b.q > a.q || (b.q === a.q && b.specificity > a.specificity) ? b : a))
  return json.q > xml.q || (json.q === xml.q && json.q > 0 && json.specificity > xml.specificity)
}
