// Transfer benchmark (bench/transfer.sh): does starting from pretrained weights help, shown on
// data this machine has? Pretrains resnet18 on Fashion-MNIST classes 0-4 (1,000 training images
// each), then trains on classes 5-9 with only 100 images per class, once from those weights
// (pretrained: <dir>, the default fine-tuning recipe: one frozen epoch, then the body at 0.1 of
// the rate) and once from scratch, the same epochs and seeds, and prints one JSON line per run
// with the accuracy on all 5,000 test images of classes 5-9.
//
// usage: node bench/transfer.mjs --folders ROOT --work DIR --pretrain-epochs E --epochs E --seeds 1,2,3
// ROOT holds train/<class>/ and test/<class>/ of all ten classes (bench/fashion_mnist_folders.py).
import { createRequire } from 'node:module'
import { mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const resnet = createRequire(import.meta.url)('../dist/index.js')
const { values: a } = parseArgs({
  options: {
    folders: { type: 'string' }, work: { type: 'string' }, 'pretrain-epochs': { type: 'string' },
    epochs: { type: 'string' }, seeds: { type: 'string' },
  },
})
const classes = readdirSync(join(a.folders, 'train')).sort()
// Fashion-MNIST's label order (bench/fashion_mnist_folders.py names the folders).
const ORDER = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot']
if (classes.length !== 10 || !ORDER.every((name) => classes.includes(name))) throw new Error(`unexpected classes ${classes}`)

/** A dataset root of symlinked images: `classNames`, at most `perClass` training images each. */
function subset(root, classNames, perClass) {
  rmSync(root, { recursive: true, force: true })
  for (const split of ['train', 'test']) {
    for (const name of classNames) {
      const from = resolve(a.folders, split, name)
      const to = join(root, split, name)
      mkdirSync(to, { recursive: true })
      const files = readdirSync(from).sort()
      for (const file of split === 'train' ? files.slice(0, perClass) : files) symlinkSync(join(from, file), join(to, file))
    }
  }
  return root
}

// Fashion-MNIST items fill their 28x28 frame: stretch to 32 and mild crops, as bench/fashion-mnist.mjs.
const base = { arch: 'resnet18', imageSize: 32, batchSize: 64, resize: 'stretch', cropScale: [0.7, 1], device: 'cpu' }
const source = subset(join(a.work, 'classes-0-4'), ORDER.slice(0, 5), 1000)
const target = subset(join(a.work, 'classes-5-9-100'), ORDER.slice(5), 100)

const pretrainStarted = performance.now()
const pretrained = await resnet.train({ ...base, data: source, epochs: Number(a['pretrain-epochs']), seed: 1, output: join(a.work, 'pretrained') })
console.log(JSON.stringify({
  kind: 'pretrain', classes: ORDER.slice(0, 5), trainPerClass: 1000, epochs: pretrained.history.length,
  valAccuracy: pretrained.history.at(-1).valAccuracy, seconds: Number(((performance.now() - pretrainStarted) / 1000).toFixed(1)),
}))
pretrained.model.dispose()

for (const seed of a.seeds.split(',').map(Number)) {
  for (const start of ['pretrained', 'scratch']) {
    const options = { ...base, data: target, epochs: Number(a.epochs), seed, output: join(a.work, `${start}-${seed}`) }
    if (start === 'pretrained') options.pretrained = join(a.work, 'pretrained')
    const { model, history } = await resnet.train(options)
    console.log(JSON.stringify({
      kind: 'run', start, seed, classes: ORDER.slice(5), trainPerClass: 100, epochs: history.length,
      valAccuracy: history.at(-1).valAccuracy, valLoss: history.at(-1).valLoss, curve: history.map((e) => e.valAccuracy),
    }))
    model.dispose()
  }
}
