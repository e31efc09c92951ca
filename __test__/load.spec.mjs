// Load: one model keeps answering correctly while another trains in the same process (the
// training thread, the libuv pool's predict tasks and libtorch's thread pool all at once).
import test from 'ava'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { predictionsAgree, resnet, temporaryDir } from './helpers.mjs'

const OPTIONS = { arch: 'resnet18', imageSize: 32, batchSize: 6, device: 'cpu', seed: 5, recipe: 'notebook' }

test('predicting with one model while another trains: every answer is right, training completes', async (t) => {
  const dir = temporaryDir(t)
  const data = join(dir, 'data')
  makeDataset(data, { train: 6, test: 2, minSize: 32, maxSize: 48 })
  const { model } = await resnet.train({ ...OPTIONS, data, output: join(dir, 'first'), epochs: 1 })
  const inputs = ['disc', 'square', 'stripes'].map((kind) => join(data, 'test', kind, `${kind}-001.jpg`))
  const expected = []
  for (const input of inputs) expected.push(await model.predict(input, { topK: 3 }))

  const epochs = []
  const second = resnet.train({ ...OPTIONS, data, output: join(dir, 'second'), epochs: 3, seed: 6 })
  second.on('epoch', (e) => epochs.push(e.epoch))
  let training = true
  const finished = second.finally(() => { training = false })
  let calls = 0
  let wrong = 0
  const callsDuringTraining = async () => {
    while (training) {
      const i = calls++ % inputs.length
      const [answer] = await model.predict([inputs[i]], { topK: 3 })
      if (!predictionsAgree(answer, expected[i])) wrong++
    }
  }
  await Promise.all([finished, callsDuringTraining(), callsDuringTraining(), callsDuringTraining(), callsDuringTraining()])
  const result = await second
  t.log(`${calls} predict calls (4 in flight) while a 3-epoch training ran`)
  t.deepEqual(epochs, [1, 2, 3])
  t.is(result.history.length, 3)
  t.true(calls >= 20, `only ${calls} calls overlapped the training`)
  t.is(wrong, 0)
})
