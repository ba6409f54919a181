import { type Logger, metricsRegistry } from '@cairn/core'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'

export interface HealthCheck {
  /** `database`, `cache`, ... */
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export interface HttpServerOptions {
  logger: Logger
  /** Runs on every GET /healthz; any failed check makes it a 503. */
  health: () => Promise<readonly HealthCheck[]>
}

/** Cairn's HTTP server: health and Prometheus metrics now; the REST and GraphQL APIs register here later. */
export function createHttpServer({ logger, health }: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  })

  app.get('/healthz', async (_req, reply) => {
    const checks = await health()
    const ok = checks.every((c) => c.ok)
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', checks })
  })

  app.get('/metrics', async (_req, reply) => {
    return reply.type(metricsRegistry.contentType).send(await metricsRegistry.metrics())
  })

  return app
}
