// Fashion-MNIST on a GPU: the full 60,000 training images, at most 15 epochs, through the
// public API on CUDA; the goal is >= 94% test accuracy (published ResNet-18: 94.9%). Prints
// one JSON line per epoch and a final line per configuration.
// usage: node bench/fashion-mnist-gpu.mjs ROOT OUTPUT_DIR [--device cuda] [--epochs 15] [--sizes 64,32]
//   ROOT from `python3 bench/fashion_mnist_folders.py ROOT --train-per-class 0`
//   (scripts/gpu-fmnist.sh runs it on the GPU machine; `--device cpu --epochs 1 --sizes 32` on a
//   small subset is its dry run)
import { createRequire } from 'node:module'
import { join } from 'node:path'

const resnet = createRequire(import.meta.url)('../dist/index.js')
const [root, output, ...flags] = process.argv.slice(2)
const flag = (name, fallback) => (flags.includes(name) ? flags[flags.indexOf(name) + 1] : fallback)
const device = flag('--device', 'cuda')
const epochs = Number(flag('--epochs', '15'))
const sizes = flag('--sizes', '64,32').split(',').map(Number)

// Fashion-MNIST items fill their frame: stretch (no centre crop) and mild random crops.
const common = {
  arch: 'resnet18', epochs, batchSize: 256, device, seed: 1, recipe: 'standard',
  resize: 'stretch', cropScale: [0.7, 1], optimizer: 'adamw', learningRate: 0.003, weightDecay: 0.05,
  schedule: 'onecycle', labelSmoothing: 0.1, monitor: 'valAccuracy',
}
for (const imageSize of sizes) {
  const started = performance.now()
  const run = resnet.train({ ...common, imageSize, data: root, output: join(output, `fmnist-${imageSize}`) })
  run.on('epoch', (e) => console.log(JSON.stringify({ kind: 'epoch', imageSize, ...e })))
  run.on('warning', (w) => console.log(JSON.stringify({ kind: 'warning', ...w })))
  const { model, history, bestEpoch } = await run
  const trainSeconds = (performance.now() - started) / 1000
  const evaluation = await model.evaluate(join(root, 'test'))
  console.log(JSON.stringify({
    kind: 'result', imageSize, testAccuracy: evaluation.accuracy, count: evaluation.count, epochs: history.length,
    bestEpoch, trainSeconds, device: model.device, recipe: { ...common, imageSize },
  }))
}
