// `resnet doctor` and `resnet setup`: what this machine gives resnet-napi (libtorch's path and
// version, CUDA, cuDNN, the GPUs, threads, the precision 'auto' picks, the caches and their
// sizes) with the command that fixes whatever is missing; and provisioning libtorch for users
// of the prebuilt package, who have no checkout.
import { spawnSync } from 'node:child_process'
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { binding, hasNvidiaDriver } from './native'

export interface DoctorReport {
  node: string
  /** The libtorch the addon loaded, or null when it did not load: its build ('cuda', PyPI's
   *  default, or PyTorch's 'cpu'-only one) and the bytes its install takes on disk. */
  libtorch: { dir: string; version: string | null; variant: 'cuda' | 'cpu'; bytes: number } | null
  /** Why the addon did not load, when it did not. */
  loadError: string | null
  cuda: { available: boolean; devices: number; cudnn: boolean } | null
  /** What nvidia-smi lists (name, memory), if it is installed. */
  gpus: string[]
  /** `fusedConv`: float32 inference on oneDNN's fused, prepacked convolutions;
   *  `fusedConvBf16`: bf16 inference on them too (native bf16 only). */
  cpu: { threads: number; nativeBf16: boolean; fusedConv: boolean; fusedConvBf16: boolean } | null
  /** What precision 'auto' computes in on each device here. */
  precisionAuto: { cpu: string; cuda: string | null } | null
  caches: { name: string; path: string; bytes: number }[]
  /** Commands that fix what is missing; empty when nothing is. */
  fixes: string[]
  /** Commands that would serve this machine better, though nothing is broken. */
  hints: string[]
}

const SETUP_SCRIPT = join(__dirname, '..', 'scripts', 'setup-libtorch.sh')

export function cacheRoot(): string {
  return process.env.RESNET_NAPI_CACHE || join(homedir(), '.cache', 'resnet-napi')
}

/** Bytes under `path` (files and links counted once, as `du --apparent-size`). */
function sizeOf(path: string): number {
  let total = 0
  const pending = [path]
  while (pending.length) {
    const next = pending.pop() as string
    let stat
    try {
      stat = lstatSync(next)
    } catch {
      continue
    }
    total += stat.size
    if (stat.isDirectory()) for (const entry of readdirSync(next)) pending.push(join(next, entry))
  }
  return total
}

/** The directory of the libtorch_cpu library mapped into this process, if any. */
function loadedLibtorchDir(): string | null {
  const maps = readFileSync('/proc/self/maps', 'utf8')
  const line = maps.split('\n').find((entry) => /\/libtorch_cpu\.so\b/.test(entry))
  const path = line?.slice(line.indexOf('/'))
  return path ? dirname(path) : null
}

/** torch's version as its install records it (`torch/version.py` beside `torch/lib`). */
function torchVersion(libDir: string): string | null {
  try {
    const text = readFileSync(join(libDir, '..', 'version.py'), 'utf8')
    return /__version__\s*=\s*'([^']+)'/.exec(text)?.[1] ?? null
  } catch {
    return null
  }
}

/** Bytes the libtorch install in `libDir` (…/torch/lib) takes: the whole cache folder for
 *  `resnet setup`'s installs; torch and the nvidia libraries beside it for a Python one. */
function installBytes(libDir: string, variant: 'cuda' | 'cpu'): number {
  const torch = dirname(libDir)
  const site = dirname(torch)
  if (dirname(site) === cacheRoot()) return sizeOf(site)
  return sizeOf(torch) + (variant === 'cuda' ? sizeOf(join(site, 'nvidia')) : 0)
}

function nvidiaSmi(): string[] {
  const result = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000 })
  return result.status === 0 ? result.stdout.split('\n').map((line) => line.trim()).filter(Boolean) : []
}

export function doctor(): DoctorReport {
  const report: DoctorReport = {
    node: process.version,
    libtorch: null,
    loadError: null,
    cuda: null,
    gpus: nvidiaSmi(),
    cpu: null,
    precisionAuto: null,
    caches: [],
    fixes: [],
    hints: [],
  }
  try {
    const info = binding().runtimeInfo()
    const dir = loadedLibtorchDir()
    if (dir) {
      const variant = existsSync(join(dir, 'libtorch_cuda.so')) ? 'cuda' : 'cpu'
      report.libtorch = { dir, version: torchVersion(dir), variant, bytes: installBytes(dir, variant) }
      if (variant === 'cuda' && !hasNvidiaDriver()) {
        report.hints.push("npx resnet setup --cpu   # no NVIDIA driver here: PyTorch's CPU-only build needs about 200 MB to download instead of 4.5 GB")
      }
    }
    report.cuda = { available: info.cudaAvailable, devices: info.cudaDeviceCount, cudnn: info.cudnnAvailable }
    report.cpu = { threads: info.threads, nativeBf16: info.cpuNativeBf16, fusedConv: info.cpuFusedConv, fusedConvBf16: info.cpuFusedConvBf16 }
    report.precisionAuto = {
      cpu: info.cpuAutoBf16 ? 'bf16 autocast (native bf16, measured faster than fp32 here)' : info.cpuNativeBf16 ? 'fp32 (native bf16, but measured slower than fp32 here)' : 'fp32',
      cuda: info.cudaAvailable ? 'bf16 autocast' : null,
    }
    if (report.gpus.length > 0 && !info.cudaAvailable) {
      report.fixes.push('nvidia-smi lists GPUs but libtorch sees none: check the driver (nvidia-smi runs?) and that CUDA_VISIBLE_DEVICES is not empty')
    }
  } catch (error) {
    report.loadError = (error as Error).message
    report.fixes.push(
      existsSync(SETUP_SCRIPT)
        ? `npx resnet setup   # installs torch==2.11.0 into the cache, once: ${hasNvidiaDriver() ? "PyPI's CUDA build (a few GB)" : "PyTorch's CPU-only build (about 200 MB; --cuda for the CUDA build)"}`
        : 'pip install torch==2.11.0',
      'export RESNET_NAPI_LIBTORCH=/path/to/site-packages/torch/lib   # or point at an existing torch 2.11.0',
    )
  }
  const root = cacheRoot()
  if (existsSync(root)) {
    for (const name of readdirSync(root).sort()) {
      const path = join(root, name)
      if (lstatSync(path).isDirectory()) report.caches.push({ name, path, bytes: sizeOf(path) })
    }
  }
  return report
}

export interface SetupOptions {
  /** 'cpu': PyTorch's CPU-only build; 'cuda': PyPI's CUDA build; 'auto' (default): the CUDA
   *  build where an NVIDIA driver is, else one already installed, else the CPU-only build. */
  variant?: 'cpu' | 'cuda' | 'auto'
  /** The package index to install from, as pip's --index-url. */
  indexUrl?: string
}

/** Installs libtorch (torch 2.11.0) into the cache with the package's own script (progress on
 *  stderr); returns the libtorch directory. */
export function setup(options: SetupOptions = {}): string {
  const args = [SETUP_SCRIPT]
  if (options.variant && options.variant !== 'auto') args.push(`--${options.variant}`)
  if (options.indexUrl) args.push('--index-url', options.indexUrl)
  const result = spawnSync('bash', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (result.status !== 0) throw new Error(`libtorch setup failed (${SETUP_SCRIPT} exited with ${result.status ?? result.signal})`)
  return result.stdout.trim()
}
