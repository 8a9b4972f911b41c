import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidOptionError } from '../errors.js'

/** The HTTP status of each error an admin route answers with, by its code. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  FST_ICECAST_RELAY_INVALID_OPTION: 400,
  FST_ICECAST_RELAY_BAD_REQUEST: 400,
  FST_ERR_VALIDATION: 400,
  FST_ICECAST_RELAY_UNKNOWN_MOUNT: 404,
  FST_ICECAST_RELAY_DUPLICATE_MOUNT: 409,
  FST_ICECAST_RELAY_MOVE_REFUSED: 409,
  FST_ICECAST_RELAY_AUTH_RATE_LIMITED: 429
}

/** Fastify's own refusals of a request it cannot read (a body that is no JSON, too large, of another type). */
function isFastifyClientError ({ code, statusCode }: Partial<FastifyError>): boolean {
  return code?.startsWith('FST_ERR_') === true && statusCode !== undefined && statusCode >= 400 && statusCode < 500
}

/** The status an admin route answers an error with: the table's, Fastify's for a request it refused, else 500. */
function adminStatusOf (error: Partial<FastifyError>): number {
  const mapped = error.code === undefined ? undefined : STATUS_BY_CODE[error.code]
  if (mapped !== undefined) return mapped
  return isFastifyClientError(error) ? error.statusCode! : 500
}

/** A bad relay definition is told as the client wrote it (`relay.port: ...`), not as the library logs it. */
function clientMessage (error: Error): string {
  return error instanceof InvalidOptionError ? `${error.field}: ${error.reason}` : error.message
}

/**
 * The admin routes' error handler: the status by the error's code, in Fastify's JSON error shape; any
 * other error is a 500 that tells the client nothing of it (the log has it).
 */
export function answerError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const statusCode = adminStatusOf(error)
  if (statusCode === 500) {
    request.log.error({ err: error }, 'admin route failed')
    return reply.code(500).send({ statusCode, error: STATUS_CODES[500], message: STATUS_CODES[500] })
  }
  request.log.info({ err: error }, error.message)
  return reply.code(statusCode).send({ statusCode, code: error.code, error: STATUS_CODES[statusCode], message: clientMessage(error) })
}
