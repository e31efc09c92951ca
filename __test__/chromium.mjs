// Renders a local page in headless Chromium (Debian's `chromium` package, installed by
// .ci/run): its DOM after the page's scripts ran, and a screenshot read with pngjs. The
// network is cut off (every host name fails to resolve), so a page that draws has
// everything inline.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { PNG } from 'pngjs'

const run = promisify(execFile)

/** The Chromium binary: $CHROMIUM_PATH, or `chromium` / `chromium-browser` on PATH. */
export function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  throw new Error('Chromium not found: install Debian\'s chromium package (apt-get install -y chromium) or set CHROMIUM_PATH')
}

/** The page at `file` rendered at width x height CSS pixels (device scale 1). With `until`, the
 *  DOM is dumped again (three tries in all) until `until(dom)` holds: Chromium's virtual time
 *  budget does not wait for off-thread image decoding, so a page that signals readiness after
 *  its images decode was sometimes dumped just before (twice in six runs on a busy 2-core machine). */
export async function renderPage(file, { width = 1280, height = 2400, until } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'resnet-chromium-'))
  try {
    const flags = [
      '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1',
      '--host-resolver-rules=MAP * ~NOTFOUND', '--virtual-time-budget=10000', `--user-data-dir=${profile}`,
      `--window-size=${width},${height}`,
    ]
    const url = pathToFileURL(file).href
    const options = { maxBuffer: 64 << 20, timeout: 120_000 }
    let { stdout: dom } = await run(chromiumPath(), [...flags, '--dump-dom', url], options)
    for (let attempt = 2; until && !until(dom) && attempt <= 3; attempt++) {
      dom = (await run(chromiumPath(), [...flags, '--dump-dom', url], options)).stdout
    }
    const screenshot = join(profile, 'screenshot.png')
    await run(chromiumPath(), [...flags, `--screenshot=${screenshot}`, url], options)
    return { dom, png: PNG.sync.read(readFileSync(screenshot)) }
  } finally {
    rmSync(profile, { recursive: true, force: true })
  }
}

/** The attributes of the first tag matching `selector` ('body', or 'tag#id'), as an object. */
export function attributesOf(dom, tag, id) {
  const pattern = id ? new RegExp(`<${tag}\\b[^>]*\\bid="${id}"[^>]*>`) : new RegExp(`<${tag}\\b[^>]*>`)
  const match = pattern.exec(dom)
  if (!match) return null
  return Object.fromEntries([...match[0].matchAll(/([\w-]+)="([^"]*)"/g)].map(([, name, value]) => [name, value]))
}

/** [x, y, width, height] from a data-rect attribute. */
export function parseRect(text) {
  return (text ?? '').split(',').map(Number)
}

/** Share of pixels in `rect` that are not near-white, and how many distinct colours (in
 *  steps of 32 per channel) appear there. A blank region scores 0 and 1. */
export function inkIn(png, [x, y, width, height]) {
  let ink = 0
  let total = 0
  const colours = new Set()
  for (let row = Math.max(0, y); row < Math.min(png.height, y + height); row++) {
    for (let column = Math.max(0, x); column < Math.min(png.width, x + width); column++) {
      const offset = (row * png.width + column) * 4
      const [r, g, b] = [png.data[offset], png.data[offset + 1], png.data[offset + 2]]
      total += 1
      if (r < 235 || g < 235 || b < 235) ink += 1
      colours.add(((r >> 5) << 6) | ((g >> 5) << 3) | (b >> 5))
    }
  }
  return { ink: total ? ink / total : 0, colours: colours.size, pixels: total }
}

/** How many pixels in `rect` are within `tolerance` of the colour `[r, g, b]` on each channel. */
export function pixelsNear(png, [x, y, width, height], [r, g, b], tolerance = 40) {
  let count = 0
  for (let row = Math.max(0, y); row < Math.min(png.height, y + height); row++) {
    for (let column = Math.max(0, x); column < Math.min(png.width, x + width); column++) {
      const offset = (row * png.width + column) * 4
      const near = Math.abs(png.data[offset] - r) <= tolerance && Math.abs(png.data[offset + 1] - g) <= tolerance && Math.abs(png.data[offset + 2] - b) <= tolerance
      if (near) count += 1
    }
  }
  return count
}
