// Disables the RUNPATH/RPATH of a 64-bit ELF shared library: the build records an rpath to
// the build machine's libtorch, meaningless elsewhere; without it the loader (src/native.ts)
// finds libtorch as it must on a user's machine. Rewrites the DT_RUNPATH/DT_RPATH tags of the
// dynamic section to DT_DEBUG (ignored in shared libraries); nothing else in the file changes.
// Used by scripts/pack.mjs and the tests.
const DT_NULL = 0n
const DT_RPATH = 15n
const DT_DEBUG = 21n
const DT_RUNPATH = 29n
const PT_DYNAMIC = 2

/** Rewrites `elf` (a Buffer) in place and returns it; throws if it has no RUNPATH. */
exports.disableRunpath = function disableRunpath(elf) {
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
