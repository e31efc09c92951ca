// An HTTP server for a model, on fastify: POST /predict with an image's bytes gives its top-k
// classes as JSON; GET /health and GET /metadata. Concurrent requests share forward passes
// through the model's batcher (LoadOptions.maxBatch). One JSON log line per request.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { timingSafeEqual } from 'node:crypto'
import { Model, loadModel } from './model'
import type { ErrorCode, ResnetError } from './errors'
import type { ServeOptions } from './types'
import { boolean, integer, invalid, knownKeys, nonEmptyString } from './validate'

/** What a client is told for each of the library's codes: bad input is the client's (4xx). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  ERR_INVALID_OPTION: 400,
  ERR_IMAGE_DECODE: 422,
  ERR_OUT_OF_MEMORY: 503,
}

export interface Server {
  /** Where it listens, e.g. http://127.0.0.1:8080. */
  readonly url: string
  readonly model: Model
  /** Stops accepting connections, lets the requests in flight finish, then resolves. The
   *  model is disposed when the server loaded it. */
  close(): Promise<void>
}

/** Serves a Model or a saved model directory over HTTP (see ServeOptions). */
export async function serve(modelOrDir: Model | string, options: ServeOptions = {}): Promise<Server> {
  knownKeys('serve options', options, ['host', 'port', 'token', 'bodyLimit', 'topK', 'log', 'load'])
  const host = options.host === undefined ? '127.0.0.1' : nonEmptyString('host', options.host)
  const port = integer('port', options.port, 0, 65_535) ?? 8080
  const token = options.token === undefined ? undefined : nonEmptyString('token', options.token)
  const bodyLimit = integer('bodyLimit', options.bodyLimit, 1, 1 << 30) ?? 20 * 1024 * 1024
  const topK = integer('topK', options.topK, 1, 1_000_000) ?? 5
  const log = boolean('log', options.log) ?? true
  if (options.load !== undefined && modelOrDir instanceof Model) invalid('load options only with a model directory', 'load', options.load)
  const owned = !(modelOrDir instanceof Model)
  const model = modelOrDir instanceof Model ? modelOrDir : await loadModel(nonEmptyString('model', modelOrDir), options.load ?? {})

  // Loaded here, not at import: fastify takes about 60 ms to load, which only a server needs.
  const { default: Fastify, LogController } = await import('fastify')
  // fastify's own two lines per request are replaced by one, written when the response is sent.
  const app = Fastify({ logger: log, logController: new LogController({ disableRequestLogging: true }), bodyLimit, return503OnClosing: true })
  app.removeAllContentTypeParsers()
  // Any body arrives as bytes: the decoder, not the Content-Type header, says what it is.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  app.addHook('onRequest', async (request, reply) => {
    if (token !== undefined && request.url !== '/health' && !authorised(request.headers.authorization, token)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send(errorBody('ERR_UNAUTHORIZED', 'Expected an Authorization: Bearer <token> header with the server\'s token'))
    }
  })
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.url, status: reply.statusCode, ms: Number(reply.elapsedTime.toFixed(2)), code: reply.getHeader('x-error-code') }, 'request')
  })
  // While closing, each answer ends its connection: a keep-alive socket that turns idle after
  // close() began would otherwise hold the process up to fastify's keepAliveTimeout (72 s).
  let closing = false
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
  app.setErrorHandler((error: FastifyError | ResnetError, _request, reply) => sendError(reply, error))
  routes(app, model, topK)

  try {
    await app.listen({ host, port })
  } catch (error) {
    if (owned) model.dispose()
    throw error
  }
  const address = app.server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`
  return {
    url,
    model,
    async close() {
      closing = true
      await app.close()
      if (owned) model.dispose()
    },
  }
}

function routes(app: FastifyInstance, model: Model, topK: number): void {
  app.get('/health', async () => ({ status: 'ok', device: model.device }))
  app.get('/metadata', async () => ({ arch: model.arch, classes: model.classes, imageSize: model.imageSize, preprocess: model.preprocess, device: model.device, precision: model.precision, batching: model.batching }))
  app.post('/predict', async (request: FastifyRequest<{ Querystring: { topK?: string; tta?: string } }>, reply) => {
    const body = request.body
    if (!Buffer.isBuffer(body) || body.length === 0) {
      return reply.code(400).header('x-error-code', 'ERR_IMAGE_DECODE').send(errorBody('ERR_IMAGE_DECODE', 'Expected the image file as the request body but received an empty body'))
    }
    const query = request.query
    const k = query.topK === undefined ? topK : Number(query.topK)
    const tta = query.tta === undefined ? false : query.tta === 'true' || query.tta === '1'
    return { predictions: await model.predict(body, { topK: k, tta }) }
  })
}

function authorised(header: string | undefined, token: string): boolean {
  const expected = Buffer.from(`Bearer ${token}`)
  const given = Buffer.from(header ?? '')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } }
}

/** The library's coded errors keep their code; fastify's (body too large, bad JSON, ...) keep
 *  their status; anything else is the server's fault. */
function sendError(reply: FastifyReply, error: FastifyError | ResnetError): FastifyReply {
  const code = String(error.code ?? 'ERR_INTERNAL')
  const fastifyStatus = (error as FastifyError).statusCode
  const status = STATUS[code as ErrorCode] ?? (fastifyStatus && fastifyStatus >= 400 ? fastifyStatus : 500)
  if (status >= 500) reply.log.error({ err: error }, 'request failed')
  const name = code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'ERR_BODY_TOO_LARGE' : code
  return reply.code(status).header('x-error-code', name).send(errorBody(name, error.message))
}
