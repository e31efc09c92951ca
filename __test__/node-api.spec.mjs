// One binary for Node 20, 22 and 24 (each runs it in node-versions.spec.mjs): it is built for
// Node-API 8 (napi crate feature "napi8"), which every Node from 20 on provides (20.x: 9, 22 and
// 24: 10). Node-API functions added after version 8 are all named `node_api_*`: the addon must
// import none of them, and every `napi_*` function it imports must be exported by this node.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const addon = fileURLToPath(new URL('../native/resnet-napi.linux-x64-gnu.node', import.meta.url))

function dynamicSymbols(file, undefinedOnly) {
  const args = ['-D', ...(undefinedOnly ? ['--undefined-only'] : ['--defined-only']), file]
  return execFileSync('nm', args, { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n')
    .map((line) => line.trim().split(/\s+/).pop())
    .filter((name) => name && /^(napi|node_api)_/.test(name))
}

test('the napi crate targets Node-API 8, which Node 20 and later provide', (t) => {
  const workspace = readFileSync(new URL('../Cargo.toml', import.meta.url), 'utf8')
  const features = workspace.match(/^napi = .*features = \[([^\]]*)\]/m)?.[1] ?? ''
  const versions = [...features.matchAll(/"napi(\d+)"/g)].map((m) => Number(m[1]))
  t.deepEqual(versions, [8])
  t.true(Number(process.versions.napi) >= 8, `this node offers Node-API ${process.versions.napi}`)
})

test('the addon imports only Node-API 8 functions, all exported by this node', (t) => {
  const imported = dynamicSymbols(addon, true)
  t.true(imported.length > 20, `found ${imported.length} Node-API imports`)
  t.deepEqual(imported.filter((name) => name.startsWith('node_api_')), [])
  const exported = new Set(dynamicSymbols(process.execPath, false))
  t.deepEqual(imported.filter((name) => !exported.has(name)), [])
})
