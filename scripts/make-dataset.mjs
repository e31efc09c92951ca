// Writes a small generated image dataset: root/{train,test}/<class>/*.jpg|png.
// Three classes that a ResNet learns in a few epochs on a CPU: a red disc, a green square and
// blue stripes, on noisy backgrounds of varied colour, at varied sizes and aspect ratios.
// Used by the demo (`npm run demo`) and the tests. Usage: node scripts/make-dataset.mjs DIR
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import jpeg from 'jpeg-js'
import { PNG } from 'pngjs'

export const CLASSES = ['disc', 'square', 'stripes']

function rng(seed) {
  let state = seed >>> 0 || 1
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 4294967296
  }
}

function draw(kind, width, height, random) {
  const data = Buffer.alloc(width * height * 4)
  const background = [random() * 120, random() * 120, random() * 120]
  const ink = { disc: [220, 40, 40], square: [40, 200, 60], stripes: [50, 80, 230] }[kind]
  const cx = width * (0.35 + random() * 0.3)
  const cy = height * (0.35 + random() * 0.3)
  const radius = Math.min(width, height) * (0.22 + random() * 0.15)
  const period = 6 + Math.floor(random() * 8)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let inside
      if (kind === 'disc') inside = (x - cx) ** 2 + (y - cy) ** 2 < radius ** 2
      else if (kind === 'square') inside = Math.abs(x - cx) < radius && Math.abs(y - cy) < radius
      else inside = Math.floor(y / period) % 2 === 0
      const colour = inside ? ink : background
      const offset = (y * width + x) * 4
      for (let c = 0; c < 3; c++) {
        data[offset + c] = Math.max(0, Math.min(255, colour[c] + (random() - 0.5) * 50))
      }
      data[offset + 3] = 255
    }
  }
  return data
}

/** Generates the dataset; returns the number of images written per split. */
export function makeDataset(root, { train = 40, test = 12, seed = 7, minSize = 40, maxSize = 160 } = {}) {
  const random = rng(seed)
  const counts = {}
  for (const [split, perClass] of [['train', train], ['test', test]]) {
    counts[split] = 0
    for (const kind of CLASSES) {
      const dir = join(root, split, kind)
      mkdirSync(dir, { recursive: true })
      for (let i = 0; i < perClass; i++) {
        const width = minSize + Math.floor(random() * (maxSize - minSize))
        const height = minSize + Math.floor(random() * (maxSize - minSize))
        const data = draw(kind, width, height, random)
        const name = `${kind}-${String(i).padStart(3, '0')}`
        if (i % 5 === 4) {
          const png = new PNG({ width, height })
          data.copy(png.data)
          writeFileSync(join(dir, `${name}.png`), PNG.sync.write(png))
        } else {
          writeFileSync(join(dir, `${name}.jpg`), jpeg.encode({ data, width, height }, 90).data)
        }
        counts[split]++
      }
    }
  }
  return counts
}

/** Encodes one generated image of `kind` as a JPEG buffer (for predict tests). */
export function sampleJpeg(kind, { width = 96, height = 72, seed = 99 } = {}) {
  const data = draw(kind, width, height, rng(seed))
  return jpeg.encode({ data, width, height }, 90).data
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = process.argv[2] ?? '.demo/shapes'
  const counts = makeDataset(root)
  console.log(`wrote ${counts.train} training and ${counts.test} test images under ${root}`)
}
