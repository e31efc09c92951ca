// What a Node developer would run instead of `resnet serve`: the same fastify server, decoding
// with sharp and running the exported model with onnxruntime-node, one request at a time, with
// the model's own preprocessing (model.json: resize mode, mean, std).
// usage: node bench/serve_onnx.mjs <model dir> <model.onnx> <port>
import Fastify from 'fastify'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import ort from 'onnxruntime-node'
import sharp from 'sharp'

const [modelDir, onnxPath, port] = process.argv.slice(2)
const meta = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8'))
const size = meta.imageSize
const { resize, mean, std } = meta.preprocess
const session = await ort.InferenceSession.create(onnxPath)
// torchvision's eval convention for 'crop': shorter side to round(size / 0.875), centre crop.
const shorter = Math.round(size / 0.875)

async function pixels(body) {
  const image = sharp(body).removeAlpha().toColourspace('srgb')
  if (resize === 'stretch') return image.resize(size, size, { fit: 'fill' }).raw().toBuffer()
  const { width, height } = await sharp(body).metadata()
  const scale = shorter / Math.min(width, height)
  const [w, h] = [Math.round(width * scale), Math.round(height * scale)]
  return image
    .resize(w, h, { fit: 'fill' })
    .extract({ left: Math.floor((w - size) / 2), top: Math.floor((h - size) / 2), width: size, height: size })
    .raw()
    .toBuffer()
}

function tensor(rgb) {
  const plane = size * size
  const data = new Float32Array(3 * plane)
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) data[c * plane + i] = (rgb[i * 3 + c] / 255 - mean[c]) / std[c]
  }
  return new ort.Tensor('float32', data, [1, 3, size, size])
}

function softmaxTopK(logits, k) {
  const max = Math.max(...logits)
  const exp = Array.from(logits, (value) => Math.exp(value - max))
  const total = exp.reduce((a, b) => a + b, 0)
  return exp
    .map((value, index) => ({ label: meta.classes[index], index, probability: value / total }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k)
}

const app = Fastify({ logger: false, bodyLimit: 20 * 1024 * 1024 })
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
app.post('/predict', async (request, reply) => {
  let rgb
  try {
    rgb = await pixels(request.body)
  } catch (error) {
    return reply.code(422).send({ error: { code: 'ERR_IMAGE_DECODE', message: error.message } })
  }
  const output = await session.run({ input: tensor(rgb) })
  return { predictions: softmaxTopK(output.logits.data, 5) }
})
await app.listen({ host: '127.0.0.1', port: Number(port) })
console.error(`serving on http://127.0.0.1:${port}`)
process.on('SIGTERM', () => app.close().then(() => process.exit(0)))
