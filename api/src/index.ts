export { createHttpServer, type HealthCheck, type HttpServerOptions } from './create-http-server.js'
