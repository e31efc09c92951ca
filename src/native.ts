// Loads the native addon. The addon links libtorch dynamically; its rpath points at the
// libtorch it was built against. Elsewhere (a prebuilt package, another machine) libtorch is
// looked for in known places and loaded first, so that the addon's dependency resolves to it.
// When nothing works the error says where it looked and which commands fix it.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { constants, homedir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type * as Binding from '../native/binding'
import type * as OptionsBinding from '../native/options-binding'
import { resnetError } from './errors'

export type NativeBinding = typeof Binding
export type NativeOptionsBinding = typeof OptionsBinding

const TORCH_VERSION = '2.11.0'
// glibc's RTLD_NODELETE (not in os.constants): Node dlcloses a library that is not an addon,
// and libtorch must stay loaded for the addon's dependency on it to resolve.
const RTLD_NODELETE = 0x1000

let cached: NativeBinding | undefined
let cachedOptions: NativeOptionsBinding | undefined

/** Directories that may hold libtorch's shared libraries, most explicit first. */
export function libtorchCandidates(): string[] {
  const candidates: string[] = []
  if (process.env.RESNET_NAPI_LIBTORCH) candidates.push(process.env.RESNET_NAPI_LIBTORCH)
  if (process.env.LIBTORCH) candidates.push(join(process.env.LIBTORCH, 'lib'))
  const cache = process.env.RESNET_NAPI_CACHE ?? join(homedir(), '.cache', 'resnet-napi')
  // `resnet setup` installs the CUDA build (torch-2.11.0) or the CPU-only one (-cpu): where
  // both are, the one this machine can use fully comes first.
  const variants = [`torch-${TORCH_VERSION}`, `torch-${TORCH_VERSION}-cpu`]
  if (process.env.RESNET_NAPI_TORCH === 'cpu' || (process.env.RESNET_NAPI_TORCH !== 'cuda' && !hasNvidiaDriver())) variants.reverse()
  for (const variant of variants) candidates.push(join(cache, variant, 'torch', 'lib'))
  const python = pythonTorchLib()
  if (python) candidates.push(python)
  return candidates
}

/** Whether an NVIDIA driver is loaded (as scripts/setup-libtorch.sh tells). */
export function hasNvidiaDriver(): boolean {
  return existsSync('/proc/driver/nvidia/version')
}

/** torch/lib of the python3 on PATH, found without importing torch. */
function pythonTorchLib(): string | undefined {
  const script = "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s else '')"
  const result = spawnSync('python3', ['-c', script], { encoding: 'utf8', timeout: 10_000 })
  const dir = result.status === 0 ? result.stdout.trim() : ''
  return dir ? join(dir, 'lib') : undefined
}

/** Every message in an error's cause chain (napi's loader puts an array in `cause`). */
function messages(error: unknown, depth = 0): string[] {
  if (!error || depth > 5) return []
  if (Array.isArray(error)) return error.flatMap((item) => messages(item, depth + 1))
  return [String((error as Error).message ?? error), ...messages((error as Error).cause, depth + 1)]
}

function isMissingLibrary(error: unknown): boolean {
  return messages(error).some((message) => /lib(torch|c10)\w*\.so\S*: cannot open shared object file/.test(message))
}

/** Loads `dir`/libtorch.so (and, through its own $ORIGIN rpath, the rest of libtorch and the
 *  nvidia libraries) into the process for good, so the addon's dependency resolves to it. */
function preload(dir: string): boolean {
  const path = join(dir, 'libtorch.so')
  if (!existsSync(path)) return false
  try {
    const flags = constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL | RTLD_NODELETE
    process.dlopen({ exports: {} }, path, flags)
  } catch (error) {
    // A plain shared library is not a Node addon: "did not self-register" means it loaded.
    return /did not self-register/.test(String((error as Error).message))
  }
  return true
}

function loadFailure(error: unknown, looked: string[]): Error {
  const message = [
    'Cannot load the resnet-napi native addon: libtorch (torch 2.11.0) was not found or did not load.',
    `Looked for libtorch in: ${looked.length ? looked.join(', ') : '(no candidates)'}.`,
    'Fix it with one of:',
    '  npx resnet setup          # installs torch==2.11.0 into ~/.cache/resnet-napi (the CUDA build where an NVIDIA driver is)',
    '  npx resnet setup --cpu    # PyTorch\'s CPU-only build (about 0.2 GB to download instead of 4.5 GB)',
    '  export RESNET_NAPI_LIBTORCH=/path/to/site-packages/torch/lib   # an existing torch 2.11.0 install',
    '  pip install torch==2.11.0   # then resnet-napi finds it through python3',
    `Loader error: ${messages(error).join('\n  caused by: ')}`,
  ].join('\n')
  return resnetError('ERR_LIBTORCH', message, error)
}

let loading: Promise<NativeBinding> | undefined

/** The addon, loaded without holding the event loop: a worker thread loads libtorch and the
 *  addon first (the dynamic linking and libtorch's static initialisers take 0.35-0.65 s),
 *  after which this thread's own load finds both in the process and takes milliseconds.
 *  Whatever fails in the worker is left to `binding()`, which reports it as ERR_LIBTORCH. */
export function loadBinding(): Promise<NativeBinding> {
  if (cached) return Promise.resolve(cached)
  loading ??= new Promise<void>((resolve) => {
    setEnvironment()
    // runtimeInfo() there too: on a CPU with native bf16 it measures once whether bf16 pays off
    // (about 50 ms), which the process then knows.
    const worker = new Worker(`require(${JSON.stringify(__filename)}).binding().runtimeInfo()`, { eval: true, stdout: true, stderr: true })
    worker.once('error', () => resolve())
    worker.once('exit', () => resolve())
  }).then(() => binding())
  return loading
}

/** Set before libtorch loads, in the process's own environment (a worker's is a copy). */
function setEnvironment(): void {
  // libtorch backs large CPU tensors (a normalised batch is ~50 MB) with transparent huge
  // pages when this is set: fresh batch memory then costs a few page faults instead of
  // thousands (cached epochs on the CPU ran 2.8x faster here). Read once by libtorch, at its
  // first allocation; a user's own setting wins.
  process.env.THP_MEM_ALLOC_ENABLE ??= '1'
}

export function binding(): NativeBinding {
  if (cached) return cached
  setEnvironment()
  const path = process.env.RESNET_NAPI_BINDING ?? '../native/binding.cjs'
  try {
    cached = require(path) as NativeBinding
    return cached
  } catch (error) {
    if (!isMissingLibrary(error)) throw loadFailure(error, [])
    const looked = libtorchCandidates()
    for (const dir of looked) {
      if (!preload(dir)) continue
      try {
        cached = require(path) as NativeBinding
        return cached
      } catch (retry) {
        throw loadFailure(retry, looked)
      }
    }
    throw loadFailure(error, looked)
  }
}

const OPTIONS_ADDON = 'resnet-napi-options.linux-x64-gnu.node'

/** The options addon (the training options' table and check): it links no libtorch, so it
 *  loads in about a millisecond, on any thread, where libtorch is missing too. It lies beside
 *  the addon: in native/ in a build from source, in the platform package when installed. */
export function optionsBinding(): NativeOptionsBinding {
  if (cachedOptions) return cachedOptions
  const places = [join(__dirname, '..', 'native', OPTIONS_ADDON)]
  try {
    places.push(join(require.resolve('resnet-napi-linux-x64-gnu/package.json'), '..', OPTIONS_ADDON))
  } catch {
    // not installed from npm: the build's copy is the only place
  }
  const found = places.find((place) => existsSync(place))
  if (!found) {
    throw resnetError('ERR_LIBTORCH', [
      `Cannot load resnet-napi's options addon (${OPTIONS_ADDON}). Looked in: ${places.join(', ')}.`,
      'Build it with `npm run build:native`, or reinstall resnet-napi so that npm installs resnet-napi-linux-x64-gnu.',
    ].join('\n'))
  }
  cachedOptions = require(found) as NativeOptionsBinding
  return cachedOptions
}
