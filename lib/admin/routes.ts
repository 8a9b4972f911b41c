import { Type, type Static, type TSchema } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifySchemaCompiler } from 'fastify'
import { basicAuthGuard } from '../auth.js'
import { BadRequestError, UnknownMountError } from '../errors.js'
import { schemaError, type Credentials } from '../options.js'
import type { RelayStatus } from '../relay/relay.js'
import { prefersJson } from './accept.js'
import { icestats, icestatsJson, isListed } from '../stats/icestats.js'
import { relayMetrics } from './metrics.js'
import { statsContext, type StatsPluginOptions } from '../stats/plugin.js'
import { IcestatsJsonSchema } from '../stats/schema.js'
import {
  KillClientQuery, MetadataQuery, MountQuery, MoveClientsQuery, OptionalMountQuery, RelayBody,
  RelayStatusSchema
} from './schemas.js'
import { answerError } from './errors.js'
import { icestatsXml, iceresponseXml, listclientsXml, listmountsXml } from './xml.js'
import { NO_CACHE } from '../http.js'

export interface AdminPluginOptions extends StatsPluginOptions {
  credentials: Credentials
}

function sendXml (reply: FastifyReply, body: string): FastifyReply {
  return reply.header('cache-control', NO_CACHE).type('text/xml; charset=utf-8').send(body)
}

/**
 * Validates with TypeBox, as the plugin's options are, so that an error names the field (`relay.port: ...`)
 * and nothing is quietly coerced or dropped (Fastify's Ajv removes unknown keys).
 */
const namedFieldValidator: FastifySchemaCompiler<unknown> = ({ schema }) => (data: unknown) => {
  const error = schemaError(schema as TSchema, data, 'relay')
  return error === undefined ? { value: data } : { error }
}

const XmlOrJson = (json: TSchema): Record<string, unknown> => ({
  200: { content: { 'text/xml': { schema: Type.String() }, 'application/json': { schema: json } } }
})
const Xml = { 200: { content: { 'text/xml': { schema: Type.String() } } } }

/**
 * The admin routes, all behind Basic auth: Icecast's raw (XML) admin commands, the relays over REST as the
 * `relay` decorator offers them, and Prometheus metrics.
 */
export async function adminPlugin (fastify: FastifyInstance, init: AdminPluginOptions): Promise<void> {
  const registry = fastify.relay
  const metrics = relayMetrics(init.view, () => registry.slaves(), init.mountPrefix)
  fastify.setErrorHandler(answerError)
  fastify.addHook('onRequest', await basicAuthGuard(fastify, init.credentials, init.limits))

  function statusOf (localMount: string): RelayStatus {
    const status = registry.get(localMount)
    if (status === undefined) throw new UnknownMountError(localMount)
    return status
  }

  fastify.get<{ Querystring: Static<typeof OptionalMountQuery> }>('/admin/stats', {
    schema: { querystring: OptionalMountQuery, response: XmlOrJson(IcestatsJsonSchema) }
  }, async (request, reply) => {
    const { mount } = request.query
    const statuses = mount === undefined ? await init.view.list() : (await init.view.list()).filter((status) => status.localMount === mount)
    if (statuses.length === 0 && mount !== undefined) throw new UnknownMountError(mount)
    const stats = icestats(statuses, statsContext(request, init), { admin: true })
    if (!prefersJson(request.headers.accept)) return sendXml(reply, icestatsXml(stats))
    return reply.header('cache-control', NO_CACHE).type('application/json; charset=utf-8').send(icestatsJson(stats))
  })

  fastify.get('/admin/listmounts', { schema: { response: Xml } }, async (_request, reply) => {
    return sendXml(reply, listmountsXml((await init.view.list()).filter(isListed)))
  })

  fastify.get<{ Querystring: Static<typeof MountQuery> }>('/admin/listclients', {
    schema: { querystring: MountQuery, response: Xml }
  }, async (request, reply) => {
    const { mount } = request.query
    const listeners = await init.view.listenersOf(mount)
    if (listeners === undefined) throw new UnknownMountError(mount)
    return sendXml(reply, listclientsXml(mount, listeners))
  })

  fastify.get<{ Querystring: Static<typeof KillClientQuery> }>('/admin/killclient', {
    schema: { querystring: KillClientQuery, response: Xml }
  }, async (request, reply) => {
    const { mount, id } = request.query
    statusOf(mount)
    // as Icecast: an unknown id is an answer (return 0), not an error
    const killed = await init.view.kick(mount, id)
    return sendXml(reply, iceresponseXml(`Client ${id} ${killed ? 'removed' : 'not found'}`, killed))
  })

  fastify.get<{ Querystring: Static<typeof MoveClientsQuery> }>('/admin/moveclients', {
    schema: { querystring: MoveClientsQuery, response: Xml }
  }, async (request, reply) => {
    const { mount, destination } = request.query
    const moved = await init.view.moveListeners(mount, destination)
    return sendXml(reply, iceresponseXml(`Clients moved from ${mount} to ${destination} (${moved})`, true))
  })

  fastify.get<{ Querystring: Static<typeof MountQuery> }>('/admin/killsource', {
    schema: { querystring: MountQuery, response: Xml }
  }, async (request, reply) => {
    const { mount } = request.query
    if (!await init.view.restart(mount)) throw new UnknownMountError(mount)
    return sendXml(reply, iceresponseXml('Source restarted: the relay connects to its upstream again', true))
  })

  fastify.get<{ Querystring: Static<typeof MetadataQuery> }>('/admin/metadata', {
    schema: { querystring: MetadataQuery, response: Xml }
  }, async (request, reply) => {
    const { mount, mode, song, title, artist, url } = request.query
    statusOf(mount)
    if (mode !== 'updinfo') return sendXml(reply, iceresponseXml('No such action', false))
    // Icecast's order: `song` whole, else `artist - title`, else the title alone
    const text = song ?? (artist !== undefined && title !== undefined ? `${artist} - ${title}` : title)
    if (text === undefined) throw new BadRequestError('metadata needs song, or title (and artist)')
    await init.view.setMetadata(mount, { title: text, ...(url !== undefined && { url }) })
    return sendXml(reply, iceresponseXml('Metadata update successful', true))
  })

  fastify.get('/admin/relays', { schema: { response: { 200: Type.Array(RelayStatusSchema) } } }, async () => await init.view.list())

  fastify.post<{ Body: Static<typeof RelayBody> }>('/admin/relays', {
    schema: { body: RelayBody, response: { 201: RelayStatusSchema } },
    validatorCompiler: namedFieldValidator
  }, async (request, reply) => {
    return reply.code(201).send(await init.view.add(request.body))
  })

  fastify.delete<{ Querystring: Static<typeof MountQuery> }>('/admin/relays', {
    schema: { querystring: MountQuery }
  }, async (request, reply) => {
    const { mount } = request.query
    if (!await init.view.remove(mount)) throw new UnknownMountError(mount)
    return reply.code(204).send()
  })

  fastify.get('/admin/metrics', async (_request, reply) => {
    return reply.type(metrics.contentType).send(await metrics.scrape())
  })
}
