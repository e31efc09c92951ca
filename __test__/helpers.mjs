// Shared by the ava specs: the public package and temporary folders.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import resnet from '../dist/index.js'

export { resnet }

export function temporaryDir(t, prefix = 'resnet-test-') {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
