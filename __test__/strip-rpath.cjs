// Test helper: a copy of the built addon with its RUNPATH disabled, to exercise the
// loader's libtorch search as on a machine where the build's rpath does not exist.
const { readFileSync, writeFileSync, mkdtempSync } = require('node:fs')
const { execFileSync } = require('node:child_process')
const { tmpdir } = require('node:os')
const { join } = require('node:path')

const { disableRunpath } = require('../scripts/elf-runpath.cjs')

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
