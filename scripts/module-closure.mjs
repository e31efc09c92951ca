// Prints the installed packages that the named ones need at run time (dependencies and optional
// dependencies, followed through Node's resolution from each package's own folder), one folder
// per line relative to the repository root, outermost only: a package nested in another's
// node_modules travels inside that one. For scripts/gpu-pack.sh --serve.
// usage: node scripts/module-closure.mjs NAME...
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

const root = join(import.meta.dirname, '..')
const found = new Set()

/** The folder Node would load `name` from when required inside `from`. */
function resolve(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    if (dirname(dir) === dir) return null
  }
}

function visit(name, from) {
  const dir = resolve(name, from)
  if (dir === null) throw new Error(`${name} is not installed (needed from ${relative(root, from) || '.'}): run npm ci`)
  if (found.has(dir)) return
  found.add(dir)
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  for (const dependency of Object.keys(manifest.dependencies ?? {})) visit(dependency, dir)
  // An optional dependency may be missing (another platform's build): npm skipped it too.
  for (const dependency of Object.keys(manifest.optionalDependencies ?? {})) if (resolve(dependency, dir)) visit(dependency, dir)
}

for (const name of process.argv.slice(2)) visit(name, root)
const folders = [...found].sort()
const outermost = folders.filter((dir) => !folders.some((other) => other !== dir && dir.startsWith(`${other}/`)))
console.log(outermost.map((dir) => relative(root, dir)).join('\n'))
