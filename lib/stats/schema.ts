import { Type } from '@sinclair/typebox'

const StatValue = Type.Union([Type.String(), Type.Number()])

/** `/status-json.xsl` and `/admin/stats` as JSON; sources carry more values than these (audio info, titles). */
export const IcestatsJsonSchema = Type.Object({
  icestats: Type.Object({
    admin: Type.String(),
    host: Type.String(),
    location: Type.String(),
    server_id: Type.String(),
    server_start: Type.String(),
    server_start_iso8601: Type.String(),
    source: Type.Array(Type.Object({
      listenurl: Type.String(),
      listeners: Type.Integer(),
      listener_peak: Type.Integer()
    }, { additionalProperties: StatValue }))
  }, { additionalProperties: StatValue })
})
