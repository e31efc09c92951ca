// Packs the two npm packages as napi-rs projects publish them: `resnet-napi` (the facade, the
// CLI and napi's loader, no binary) and `resnet-napi-linux-x64-gnu` (the prebuilt addons, with
// the build machine's rpath disabled so that libtorch is found as on a user's machine; see
// src/native.ts). The packed main package lists the platform one in optionalDependencies, so
// npm installs it where its os/cpu/libc match. As `napi pre-publish` does, that entry is added
// at packing time only: in the repository's package.json it would name a package the registry
// does not have yet, and `npm ci` refuses a lockfile without it.
// Usage: node scripts/pack.mjs OUT_DIR (after `npm run build`); prints the tarball paths as JSON.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const { disableRunpath } = createRequire(import.meta.url)('./elf-runpath.cjs')
const PLATFORM = 'linux-x64-gnu'
const OPTIONS_ADDON = `resnet-napi-options.${PLATFORM}.node`

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'))
}

function npmPack(dir, outDir) {
  const output = execFileSync('npm', ['pack', dir, '--pack-destination', outDir, '--json', '--ignore-scripts'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return join(outDir, JSON.parse(output)[0].filename)
}

/** Writes both tarballs into `outDir`; returns their paths. */
export function pack(outDir) {
  const main = readJson(join(root, 'package.json'))
  const platformDir = join(root, 'npm', PLATFORM)
  const platform = readJson(join(platformDir, 'package.json'))
  const addon = join(root, 'native', `${main.napi.binaryName}.${PLATFORM}.node`)
  const optionsAddon = join(root, 'native', OPTIONS_ADDON)
  for (const needed of [addon, optionsAddon, join(root, 'dist', 'index.js')]) {
    if (!existsSync(needed)) throw new Error(`${needed} is missing: run \`npm run build\` first`)
  }
  if (platform.version !== main.version) {
    throw new Error(`expected npm/${PLATFORM} at version ${main.version} as package.json, found ${platform.version}`)
  }
  mkdirSync(outDir, { recursive: true })
  const staging = mkdtempSync(join(tmpdir(), 'resnet-pack-'))
  try {
    const platformStage = join(staging, PLATFORM)
    mkdirSync(platformStage)
    copyFileSync(join(platformDir, 'package.json'), join(platformStage, 'package.json'))
    writeFileSync(join(platformStage, platform.main), disableRunpath(readFileSync(addon)))
    // The options addon links no libtorch (and has no rpath to disable): train() checks its
    // options with it before libtorch loads (src/native.ts, optionsBinding).
    copyFileSync(optionsAddon, join(platformStage, OPTIONS_ADDON))
    // NCCL for distributed runs on GPUs, loaded from beside the addon (a build against a
    // libtorch without CUDA has none; the addon then uses Gloo).
    const nccl = join(root, 'native', 'libresnet_nccl.so')
    if (existsSync(nccl)) copyFileSync(nccl, join(platformStage, 'libresnet_nccl.so'))
    // The main package's files exactly as npm packs them, then its package.json completed.
    const plain = npmPack(root, staging)
    execFileSync('tar', ['-xzf', plain, '-C', staging])
    const mainStage = join(staging, 'package')
    const manifest = readJson(join(mainStage, 'package.json'))
    manifest.optionalDependencies = { ...manifest.optionalDependencies, [platform.name]: platform.version }
    writeFileSync(join(mainStage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    return { main: npmPack(mainStage, outDir), platform: npmPack(platformStage, outDir) }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(pack(resolve(process.argv[2] ?? 'packages')), null, 2))
}
