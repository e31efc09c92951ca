// Pretrained ImageNet weights without Python: torchvision's weights as the Hugging Face Hub
// republishes them in safetensors (timm's `<arch>.tv_in1k`), listed with their sha256 and size
// in a manifest shipped with the package (or the one RESNET_NAPI_WEIGHTS_MANIFEST names), and
// downloaded once into `$RESNET_NAPI_CACHE/weights/`: redirects followed, progress reported,
// an interrupted download resumed (HTTP Range) or restarted, the file checked against its
// sha256 and size before use and moved into place atomically.
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { resnetError } from './errors'
import { ARCHS, type Arch, type DownloadEvent } from './types'

export interface ManifestEntry {
  url: string
  sha256: string
  bytes: number
}

/** The variable that replaces the shipped manifest (mirrors, sites without internet, tests). */
export const MANIFEST_VARIABLE = 'RESNET_NAPI_WEIGHTS_MANIFEST'
const SHIPPED_MANIFEST = resolve(__dirname, '..', 'weights-manifest.json')
/** Attempts per download; each later one resumes from what the earlier ones wrote. */
const ATTEMPTS = 3
/** A `download` event at most this often (and at the start and the end). */
const PROGRESS_INTERVAL_MS = 250

export function manifestPath(): string {
  return process.env[MANIFEST_VARIABLE] || SHIPPED_MANIFEST
}

export function weightsCacheDir(): string {
  return join(process.env.RESNET_NAPI_CACHE || join(homedir(), '.cache', 'resnet-napi'), 'weights')
}

/** The manifest's entry for `arch`, checked; ERR_MODEL_FILE names the manifest when it is
 *  unreadable or lacks the arch. */
export function manifestEntry(arch: Arch): ManifestEntry {
  const path = manifestPath()
  let manifest: Record<string, unknown>
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw resnetError('ERR_MODEL_FILE', `expected a JSON weights manifest at ${path} (${MANIFEST_VARIABLE} names another), but it could not be read: ${(error as Error).message}`)
  }
  const entry = manifest?.[arch] as Partial<ManifestEntry> | undefined
  if (entry === undefined) {
    const listed = Object.keys(manifest ?? {}).filter((key) => (ARCHS as readonly string[]).includes(key))
    throw resnetError(
      'ERR_MODEL_FILE',
      `expected ImageNet weights for ${arch} in the weights manifest ${path}, found entries for ${listed.join(', ') || 'no arch'}; ` +
        `add { "${arch}": { "url", "sha256", "bytes" } } to a manifest of your own and name it in ${MANIFEST_VARIABLE}`,
    )
  }
  const valid =
    typeof entry.url === 'string' && /^https?:\/\//.test(entry.url) &&
    typeof entry.sha256 === 'string' && /^[0-9a-f]{64}$/.test(entry.sha256) &&
    Number.isSafeInteger(entry.bytes) && (entry.bytes as number) > 0
  if (!valid) {
    throw resnetError('ERR_MODEL_FILE', `expected { url: "http(s)://...", sha256: 64 lowercase hex digits, bytes: a positive integer } for ${arch} in the weights manifest ${path}, found ${JSON.stringify(entry)}`)
  }
  return entry as ManifestEntry
}

/** The path of `arch`'s ImageNet weights in the cache, downloading them first when absent.
 *  `onProgress` receives `download` events; `signal` stops a download (ERR_ABORTED). */
export async function imagenetWeights(arch: Arch, onProgress: (event: DownloadEvent) => void, signal?: AbortSignal): Promise<string> {
  const entry = manifestEntry(arch)
  const dir = weightsCacheDir()
  // The hash in the name: a manifest naming other weights never reuses a stale file.
  const file = join(dir, `${arch}-imagenet-${entry.sha256.slice(0, 16)}.safetensors`)
  if (existsSync(file)) {
    if ((await sha256Of(file)) === entry.sha256) return file
    await rm(file, { force: true }) // damaged since it was checked: fetched again
  }
  await mkdir(dir, { recursive: true })
  const partial = `${file}.partial`
  let lastError: unknown
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    if (signal?.aborted) throw resnetError('ERR_ABORTED', `the download of ${entry.url} was aborted`)
    try {
      await download(entry, partial, arch, onProgress, signal)
      lastError = undefined
      break
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_ABORTED' || (error as { code?: string }).code === 'ERR_MODEL_FILE') throw error
      lastError = error
    }
  }
  if (lastError !== undefined) {
    throw resnetError(
      'ERR_IO',
      `could not download ImageNet weights for ${arch} from ${entry.url} (listed in ${manifestPath()}): ${describe(lastError)}. ` +
        `Offline, put the file at ${file}, or set ${MANIFEST_VARIABLE} to a manifest naming a reachable mirror`,
      lastError,
    )
  }
  const { size } = await stat(partial)
  const digest = await sha256Of(partial)
  if (size !== entry.bytes || digest !== entry.sha256) {
    await rm(partial, { force: true })
    throw resnetError(
      'ERR_MODEL_FILE',
      `expected ${entry.bytes} bytes with sha256 ${entry.sha256} from ${entry.url}, received ${size} bytes with sha256 ${digest}; nothing was kept`,
    )
  }
  await rename(partial, file)
  await syncDir(dirname(file))
  return file
}

/** Fetches the rest of `entry` into `partial`: from where an earlier attempt stopped when
 *  the server honours a Range request, else from the start. */
async function download(entry: ManifestEntry, partial: string, arch: Arch, onProgress: (event: DownloadEvent) => void, signal?: AbortSignal) {
  const have = existsSync(partial) ? (await stat(partial)).size : 0
  if (have > entry.bytes) await rm(partial, { force: true })
  const from = have > entry.bytes ? 0 : have
  if (from === entry.bytes) return
  let response: Response
  try {
    response = await fetch(entry.url, { redirect: 'follow', signal, headers: from > 0 ? { Range: `bytes=${from}-` } : {} })
  } catch (error) {
    if (signal?.aborted) throw resnetError('ERR_ABORTED', `the download of ${entry.url} was aborted`)
    throw error
  }
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status} ${response.statusText}`)
  const resumed = response.status === 206 && (response.headers.get('content-range') ?? '').startsWith(`bytes ${from}-`)
  if (response.status === 206 && !resumed) {
    // Some other range than the one asked for: start again from the first byte.
    await rm(partial, { force: true })
    throw new Error(`the server answered bytes=${from}- with Content-Range ${response.headers.get('content-range')}`)
  }
  let received = resumed ? from : 0
  const handle = await open(partial, resumed ? 'a' : 'w')
  let lastReport = 0
  const report = (force: boolean) => {
    const now = Date.now()
    if (!force && now - lastReport < PROGRESS_INTERVAL_MS) return
    lastReport = now
    onProgress({ arch, url: entry.url, receivedBytes: received, totalBytes: entry.bytes, resumed })
  }
  try {
    report(true)
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      await handle.write(chunk)
      received += chunk.byteLength
      if (received > entry.bytes) throw resnetError('ERR_MODEL_FILE', `expected ${entry.bytes} bytes from ${entry.url}, received more; nothing was kept`)
      report(false)
    }
    await handle.sync()
  } catch (error) {
    if (signal?.aborted) throw resnetError('ERR_ABORTED', `the download of ${entry.url} was aborted`)
    if ((error as { code?: string }).code === 'ERR_MODEL_FILE') await rm(partial, { force: true })
    throw error
  } finally {
    await handle.close()
  }
  report(true)
  if (received < entry.bytes) throw new Error(`the connection closed after ${received} of ${entry.bytes} bytes`)
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Makes a rename durable: fsync the directory that holds the new name. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { message?: string; code?: string } })?.cause
  const message = (error as Error)?.message ?? String(error)
  return cause?.message ? `${message} (${cause.code ?? ''}${cause.code ? ': ' : ''}${cause.message})` : message
}
