// Project side of the real-photo benchmark (bench/photos.sh): trains through the public API
// (the built dist/, as a user would) and prints one JSON line per epoch, then a final line with
// the last epoch's validation accuracy and the same model evaluated with test-time
// augmentation (the image and its mirror image averaged).
//
// usage: node bench/photos.mjs --data ROOT --output DIR --epochs E --image-size S --seed N --settings defaults|notebook
//        [--precision auto|fp32|bf16]
// ROOT holds train/<class>/ and val/<class>/. "defaults" passes no recipe option at all (what a
// new user gets); "notebook" passes recipe: 'notebook' (the Kaggle notebook's settings).
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const resnet = createRequire(import.meta.url)('../dist/index.js')
const { values: a } = parseArgs({
  options: {
    data: { type: 'string' }, output: { type: 'string' }, epochs: { type: 'string' },
    'image-size': { type: 'string' }, seed: { type: 'string' }, settings: { type: 'string' }, precision: { type: 'string' },
  },
})
const side = `project-${a.settings}${a.precision ? `-${a.precision}` : ''}`
const seed = Number(a.seed)
const options = {
  data: a.data, output: a.output, arch: 'resnet18', epochs: Number(a.epochs), imageSize: Number(a['image-size']),
  seed, device: 'cpu', ...(a.settings === 'notebook' ? { recipe: 'notebook' } : {}),
  ...(a.precision ? { precision: a.precision } : {}),
}
const started = performance.now()
const run = resnet.train(options)
run.on('warning', (w) => console.error(`warning: ${w.message}`))
run.on('epoch', (e) => console.log(JSON.stringify({ kind: 'epoch', side, seed, ...e })))
const { model, history } = await run
const trainSeconds = (performance.now() - started) / 1000
const last = history[history.length - 1]
const tta = await model.evaluate(join(a.data, 'val'), { tta: true })
console.log(JSON.stringify({
  kind: 'final', side, seed, valAccuracy: last.valAccuracy, valLoss: last.valLoss, ttaAccuracy: tta.accuracy,
  valCount: tta.count, trainSeconds: Number(trainSeconds.toFixed(1)), preprocess: model.preprocess,
}))
model.dispose()
