// What the CLI's requests log. Most of a relay's requests are listeners: at Fastify's default two info lines
// each, a flash crowd of 10,000 wrote 20,000 JSON lines to stdout, and their CPU. Icecast keeps a line per
// listener for its access log, a file apart from its error log, and logs a listener joining at debug; the CLI
// has one log, so a request's lines are at debug (`<loglevel>4</loglevel>`), and the relays' events and every
// error stay at their own levels.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

export class RequestsAtDebug extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error !== null && error !== undefined) super.requestCompleted(error, request, reply)
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }

  override routeNotFound (request: FastifyRequest): void {
    request.log.debug(`Route ${request.method}:${request.url} not found`)
  }
}
