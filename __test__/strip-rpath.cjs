// Test helper: a copy of the built addon with its RUNPATH disabled, to exercise the
// loader's libtorch search as on a machine where the build's rpath does not exist.
// It rewrites the DT_RUNPATH/DT_RPATH tags of the ELF dynamic section to DT_DEBUG (ignored
// in shared libraries); nothing else in the file changes.
const { readFileSync, writeFileSync, mkdtempSync } = require('node:fs')
const { execFileSync } = require('node:child_process')
const { tmpdir } = require('node:os')
const { join } = require('node:path')

const DT_NULL = 0n
const DT_RPATH = 15n
const DT_DEBUG = 21n
const DT_RUNPATH = 29n
const PT_DYNAMIC = 2

function disableRunpath(elf) {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new Error('expected a 64-bit ELF file')
  const programHeaders = Number(elf.readBigUInt64LE(0x20))
  const entrySize = elf.readUInt16LE(0x36)
  const count = elf.readUInt16LE(0x38)
  let changed = 0
  for (let i = 0; i < count; i++) {
    const header = programHeaders + i * entrySize
    if (elf.readUInt32LE(header) !== PT_DYNAMIC) continue
    const offset = Number(elf.readBigUInt64LE(header + 8))
    const size = Number(elf.readBigUInt64LE(header + 32))
    for (let entry = offset; entry < offset + size; entry += 16) {
      const tag = elf.readBigInt64LE(entry)
      if (tag === DT_NULL) break
      if (tag === DT_RUNPATH || tag === DT_RPATH) {
        elf.writeBigInt64LE(DT_DEBUG, entry)
        changed++
      }
    }
  }
  if (changed === 0) throw new Error('the addon has no RUNPATH to disable')
  return elf
}

function builtAddon() {
  return join(__dirname, '..', 'native', 'resnet-napi.linux-x64-gnu.node')
}

/** Path of a copy of the addon that cannot find libtorch through its rpath. */
exports.stripped = function stripped() {
  const copy = join(mkdtempSync(join(tmpdir(), 'resnet-stripped-')), 'resnet-napi.node')
  writeFileSync(copy, disableRunpath(readFileSync(builtAddon())))
  return copy
}

/** The project's libtorch lib directory (see scripts/setup-libtorch.sh). */
exports.libtorchLib = function libtorchLib() {
  const dir = execFileSync('bash', [join(__dirname, '..', 'scripts', 'setup-libtorch.sh')], { encoding: 'utf8' }).trim()
  return join(dir, 'lib')
}
