// The README's list of prerequisites and the one scripts/check-prerequisites.sh checks are the
// same list: a tool added to one and not the other fails here.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
/** [name, scope, Debian package] of each prerequisite the check knows. */
const checked = () =>
  execFileSync('bash', [`${root}/scripts/check-prerequisites.sh`, '--list'], { encoding: 'utf8' }).trim().split('\n').map((line) => line.split(' '))

test("the README's prerequisites are the ones the check checks, in its order", (t) => {
  const readme = readFileSync(`${root}/README.md`, 'utf8')
  const section = readme.split('<!-- prerequisites:')[1]?.split('<!-- end of prerequisites -->')[0]
  t.truthy(section, 'the README marks its list of prerequisites')
  // Each item's backticked names before its colon: "- `g++`, `make`, `cmake`: ...".
  const listed = section.split('\n').filter((line) => line.startsWith('- ')).flatMap((line) => {
    const names = line.slice(2).split(':')[0]
    return [...names.matchAll(/`([^`]+)`/g)].map((match) => `${match[1]}${/\(tests only\)/.test(names) ? ' tests' : ' build'}`)
  })
  t.deepEqual(listed, checked().map(([name, scope]) => `${name} ${scope}`))
})

test('the apt line in the README installs every Debian package the check names', (t) => {
  const readme = readFileSync(`${root}/README.md`, 'utf8')
  const aptLine = /sudo apt-get install -y ([^`]+)`/.exec(readme.split('<!-- end of prerequisites -->')[1] ?? '')
  t.truthy(aptLine)
  const packages = checked().map(([, , name]) => name).filter(Boolean)
  t.true(packages.length >= 7, packages.join(' '))
  t.deepEqual(aptLine[1].trim().split(/\s+/).sort(), packages.sort())
})
