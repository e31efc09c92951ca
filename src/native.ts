// Loads the native addon. The addon links libtorch dynamically; its rpath points at the
// libtorch it was built against. Elsewhere (a prebuilt package, another machine) libtorch is
// looked for in known places and loaded first, so that the addon's dependency resolves to it.
// When nothing works the error says where it looked and which commands fix it.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { constants } from 'node:os'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type * as Binding from '../native/binding'
import { resnetError } from './errors'

export type NativeBinding = typeof Binding

const TORCH_VERSION = '2.11.0'
// Order matters: each library's own dependencies must already be loaded or findable.
const LIBTORCH_LIBRARIES = ['libc10.so', 'libtorch_cpu.so', 'libc10_cuda.so', 'libtorch_cuda.so', 'libtorch.so']

let cached: NativeBinding | undefined

/** Directories that may hold libtorch's shared libraries, most explicit first. */
export function libtorchCandidates(): string[] {
  const candidates: string[] = []
  if (process.env.RESNET_NAPI_LIBTORCH) candidates.push(process.env.RESNET_NAPI_LIBTORCH)
  if (process.env.LIBTORCH) candidates.push(join(process.env.LIBTORCH, 'lib'))
  const cache = process.env.RESNET_NAPI_CACHE ?? join(homedir(), '.cache', 'resnet-napi')
  candidates.push(join(cache, `torch-${TORCH_VERSION}`, 'torch', 'lib'))
  const python = pythonTorchLib()
  if (python) candidates.push(python)
  return candidates
}

/** torch/lib of the python3 on PATH, found without importing torch. */
function pythonTorchLib(): string | undefined {
  const script = "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s else '')"
  const result = spawnSync('python3', ['-c', script], { encoding: 'utf8', timeout: 10_000 })
  const dir = result.status === 0 ? result.stdout.trim() : ''
  return dir ? join(dir, 'lib') : undefined
}

function isMissingLibrary(error: unknown): boolean {
  const text = String((error as Error)?.message ?? '') + String(((error as Error)?.cause as Error)?.message ?? '')
  const causes = ((error as Error)?.cause as Error[] | undefined) ?? []
  const all = [text, ...(Array.isArray(causes) ? causes.map((c) => String(c?.message)) : [])].join('\n')
  return /lib(torch|c10)[\w]*\.so[^:]*: cannot open shared object file/.test(all)
}

/** Loads libtorch's libraries from `dir` into the process with global symbols. */
function preload(dir: string): boolean {
  if (!existsSync(join(dir, 'libtorch.so'))) return false
  for (const library of LIBTORCH_LIBRARIES) {
    const path = join(dir, library)
    if (!existsSync(path)) continue
    try {
      process.dlopen({ exports: {} }, path, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL)
    } catch (error) {
      // A plain shared library is not a Node addon: "did not self-register" means it loaded.
      if (!/self-register|Module did not/.test(String((error as Error).message))) return false
    }
  }
  return true
}

function causeChain(error: unknown): string {
  const lines: string[] = []
  let current: unknown = error
  for (let depth = 0; current && depth < 5; depth++) {
    const message = (current as Error).message ?? String(current)
    lines.push(message)
    const cause = (current as Error).cause
    current = Array.isArray(cause) ? cause[0] : cause
  }
  return lines.join('\n  caused by: ')
}

function loadFailure(error: unknown, looked: string[]): Error {
  const message = [
    'Cannot load the resnet-napi native addon: libtorch (torch 2.11.0) was not found or did not load.',
    `Looked for libtorch in: ${looked.length ? looked.join(', ') : '(no candidates)'}.`,
    'Fix it with one of:',
    '  bash node_modules/resnet-napi/scripts/setup-libtorch.sh   # installs PyPI torch==2.11.0 into ~/.cache/resnet-napi',
    '  export RESNET_NAPI_LIBTORCH=/path/to/site-packages/torch/lib   # an existing torch 2.11.0 install',
    '  pip install torch==2.11.0   # then resnet-napi finds it through python3',
    `Loader error: ${causeChain(error)}`,
  ].join('\n')
  return resnetError('ERR_LIBTORCH', message, error)
}

export function binding(): NativeBinding {
  if (cached) return cached
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
