// Project side of the Fashion-MNIST accuracy benchmark: trains through the public API (the
// built dist/, as a user would) with the standard recipe and prints one JSON line per epoch,
// then {kind: "project", testAccuracy, ...} from model.evaluate on the test folder.
//
// usage: node bench/fashion-mnist.mjs --data ROOT --output DIR --epochs E --lr LR [--seed N] [--precision P]
// ROOT holds train/<class>/ and test/<class>/ (bench/fashion_mnist_folders.py); the test folder
// is also the per-epoch validation set, as it is on the PyTorch side.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const resnet = createRequire(import.meta.url)('../dist/index.js');
const { values: a } = parseArgs({
  options: {
    data: { type: 'string' }, output: { type: 'string' }, epochs: { type: 'string' }, lr: { type: 'string' },
    seed: { type: 'string', default: '1' }, precision: { type: 'string' },
  },
});
// Fashion-MNIST items fill their 28x28 frame: stretch to 32 (no centre crop) and mild random
// crops; AdamW with one-cycle and label smoothing. bench/fashion_mnist_pytorch.py mirrors it.
const recipe = {
  arch: 'resnet18', epochs: Number(a.epochs), imageSize: 32, batchSize: 128, learningRate: Number(a.lr),
  optimizer: 'adamw', weightDecay: 0.05, schedule: 'onecycle', labelSmoothing: 0.1,
  recipe: 'standard', resize: 'stretch', cropScale: [0.7, 1], device: 'cpu', seed: Number(a.seed), workers: 0,
  ...(a.precision ? { precision: a.precision } : {}),
};

const started = performance.now();
const run = resnet.train({ data: a.data, output: a.output, ...recipe });
run.on('start', (s) => console.log(JSON.stringify({ kind: 'project-start', ...s, classes: s.classes.length })));
run.on('warning', (w) => console.error(`warning: ${w.message}`));
run.on('epoch', (e) => console.log(JSON.stringify({ kind: 'project-epoch', ...e })));
const { model, history, bestEpoch } = await run;
// Wall time of the whole train() call (epochs include the per-epoch test pass and the save).
const trainSeconds = (performance.now() - started) / 1000;

const t0 = performance.now();
const ev = await model.evaluate(join(a.data, 'test'));
console.log(JSON.stringify({
  kind: 'project', testAccuracy: ev.accuracy, testLoss: ev.loss, testCount: ev.count,
  trainSeconds: Number(trainSeconds.toFixed(1)), evalSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
  ...recipe, epochs: history.length, bestEpoch, runtime: resnet.runtimeInfo(),
  perClass: ev.perClass.map((c) => ({ class: c.class, recall: Number(c.recall.toFixed(4)) })),
}));
