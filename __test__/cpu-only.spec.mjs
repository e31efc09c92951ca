// The addon loads and trains with a libtorch that has no CUDA libraries, as PyTorch's CPU-only
// build is: made here from the installed libtorch by leaving out every CUDA library and, when
// that is the CUDA build, dropping libtorch.so's dependency on libtorch_cuda (patchelf). The
// CUDA build's libtorch_cpu.so still names CUDA's runtime and CUPTI (the CPU-only build's does
// not), so those two stay. The addon is a copy without its RUNPATH, as the prebuilt package
// ships it, so that it finds libtorch the way a CPU-only user's does (RESNET_NAPI_LIBTORCH, as
// `resnet setup --cpu`'s folder is found) and nothing can reach the installed CUDA libraries.
// NCCL's part of the addon (libresnet_nccl.so) is never loaded.
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, linkSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { temporaryDir } from './helpers.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const { stripped, libtorchLib } = createRequire(import.meta.url)('./strip-rpath.cjs')
// What PyTorch's CPU-only build does not have.
const CUDA_ONLY = /^lib(torch_cuda\w*|c10_cuda|caffe2_nvrtc|torch_nvshmem|torch_python)\.so/
const CUDA_LIBRARIES = /\/lib(torch_cuda|c10_cuda|cudnn|cublas|cufft|curand|cusparse|cusolver|nccl|nvrtc|nvshmem|resnet_nccl)\w*\.so/

function linkOrCopy(from, to) {
  try {
    linkSync(from, to)
  } catch {
    copyFileSync(from, to)
  }
}

/** A folder holding the installed libtorch without its CUDA libraries. */
function cpuOnlyLibtorch(t) {
  const lib = libtorchLib()
  const dir = temporaryDir(t, 'resnet-cpu-only-')
  for (const name of readdirSync(lib)) {
    if (CUDA_ONLY.test(name) || !/\.so(\.\d+)*$/.test(name)) continue
    if (name === 'libtorch.so') copyFileSync(join(lib, name), join(dir, name))
    else linkOrCopy(join(lib, name), join(dir, name))
  }
  const needed = execFileSync('patchelf', ['--print-needed', join(dir, 'libtorch_cpu.so')], { encoding: 'utf8' }).split('\n')
  for (const name of needed.filter((entry) => /^lib(cudart|cupti)\.so/.test(entry))) {
    const nvidia = join(lib, '..', '..', 'nvidia')
    const found = readdirSync(nvidia).map((entry) => join(nvidia, entry, 'lib', name)).find((path) => existsSync(path))
    if (!found) throw new Error(`${name}, which libtorch_cpu.so names, is not under ${nvidia}`)
    linkOrCopy(found, join(dir, name))
  }
  execFileSync('patchelf', ['--remove-needed', 'libtorch_cuda.so', join(dir, 'libtorch.so')])
  return dir
}

const CHILD = `
const { readFileSync } = require('node:fs')
const resnet = require(${JSON.stringify(join(root, 'dist', 'index.js'))})
const [data, output, image] = process.argv.slice(1)
resnet.train({ data, output, arch: 'resnet18', epochs: 1, imageSize: 32, batchSize: 8, device: 'auto', seed: 1 })
  .then(async (result) => {
    const model = await resnet.loadModel(output)
    const predictions = await model.predict(image)
    const info = resnet.runtimeInfo()
    const libraries = [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((line) => line.slice(line.indexOf('/'))).filter((path) => /\\.so/.test(path)))]
    console.log(JSON.stringify({ device: model.device, epochs: result.history.length, predictions, cuda: info.cudaAvailable, libraries }))
  })
  .catch((error) => { console.error(error); process.exit(1) })
`

test('the addon loads, trains and predicts with a libtorch that has no CUDA libraries', (t) => {
  const lib = cpuOnlyLibtorch(t)
  t.false(readdirSync(lib).some((name) => CUDA_ONLY.test(name)))
  const work = temporaryDir(t, 'resnet-cpu-only-run-')
  const data = join(work, 'data')
  makeDataset(data, { train: 16, test: 8 })
  const image = join(data, 'test', readdirSync(join(data, 'test'))[0])
  const first = join(image, readdirSync(image)[0])
  const run = spawnSync(process.execPath, ['-e', CHILD, data, join(work, 'model'), first], {
    encoding: 'utf8',
    env: { ...process.env, RESNET_NAPI_BINDING: stripped(), RESNET_NAPI_LIBTORCH: lib },
    timeout: 300_000,
  })
  t.is(run.status, 0, run.stderr)
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1))
  t.is(result.device, 'cpu')
  t.is(result.epochs, 1)
  t.false(result.cuda)
  t.is(result.predictions.length, 3, 'one prediction per class of the dataset')
  const torch = result.libraries.filter((path) => /\/lib(torch|c10)/.test(path))
  t.true(torch.some((path) => path === join(lib, 'libtorch_cpu.so')), torch.join('\n'))
  t.true(torch.every((path) => path.startsWith(lib)), `every libtorch library comes from the CPU-only folder:\n${torch.join('\n')}`)
  t.deepEqual(result.libraries.filter((path) => CUDA_LIBRARIES.test(path)), [])

  const doctor = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'doctor', '--json'], {
    encoding: 'utf8',
    env: { ...process.env, RESNET_NAPI_BINDING: stripped(), RESNET_NAPI_LIBTORCH: lib },
    timeout: 120_000,
  })
  t.is(doctor.status, 0, doctor.stderr)
  const report = JSON.parse(doctor.stdout)
  t.is(report.libtorch.dir, lib)
  t.is(report.libtorch.variant, 'cpu')
  t.true(report.libtorch.bytes > 1e8, `${report.libtorch.bytes} bytes`)
})

test('the addon names no CUDA library; NCCL lives apart in libresnet_nccl.so', (t) => {
  const addon = join(root, 'native', 'resnet-napi.linux-x64-gnu.node')
  const needed = execFileSync('patchelf', ['--print-needed', addon], { encoding: 'utf8' }).trim().split('\n')
  t.deepEqual(needed.filter((name) => /cuda|nccl|cudnn|cublas/.test(name)), [])
  t.true(needed.includes('libtorch.so'), needed.join(' '))
  const nccl = join(root, 'native', 'libresnet_nccl.so')
  if (!existsSync(nccl)) {
    t.log('this build has no libresnet_nccl.so (a libtorch without CUDA, or without the CUDA wheel\'s headers)')
    return
  }
  const ncclNeeded = execFileSync('patchelf', ['--print-needed', nccl], { encoding: 'utf8' })
  t.regex(ncclNeeded, /libtorch_cuda\.so/)
})
