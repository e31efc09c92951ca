// Renders report.html: one self-contained page (styles, uPlot, data and thumbnails inline;
// no request leaves the page). Tables and the image grid are static HTML; the page script
// (report-page.ts) draws the three charts.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { NativeReview, NativeReviewedSample } from '../native/binding'
import type { EpochSummary } from './types'
import { decimalTicks, drawReport, type ChartData } from './report-page'

/** A validation image as the report shows it, with its JPEG thumbnail. */
export type ReviewedSample = NativeReviewedSample

/** The final model's validation: metrics and the highest-loss samples, highest first. */
export type ValidationReview = NativeReview

export interface ReportContent {
  output: string
  createdAt: Date
  arch?: string
  device?: string
  classes: string[]
  trainImages?: number
  validationImages?: number
  /** Training images per class, in the order of `classes`. */
  classCounts?: number[]
  history: EpochSummary[]
  /** [fractional epoch, learning rate] per update, as reported by 'batch' events. */
  learningRates: [number, number][]
  bestEpoch: number | null
  stoppedEarly: boolean
  /** Training was aborted: the page holds the completed epochs' curves only. */
  aborted: boolean
  review: ValidationReview | null
  /** The run's resolved configuration (its config.json), when it wrote one. */
  configuration?: Record<string, unknown> | null
}

/** Most learning-rate points drawn; longer runs are thinned evenly. */
const MAX_RATE_POINTS = 2000

const uplotDir = () => join(require.resolve('uplot'), '..')

/** The page as one string. */
export function renderReport(content: ReportContent): string {
  const uplotScript = readFileSync(join(uplotDir(), 'uPlot.iife.min.js'), 'utf8')
  const uplotStyle = readFileSync(join(uplotDir(), 'uPlot.min.css'), 'utf8')
  const title = `Training report: ${content.arch ?? 'resnet'}, ${content.history.length} epoch${content.history.length === 1 ? '' : 's'}`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="resnet-napi">
<title>${escapeHtml(title)}</title>
<style>${uplotStyle}
${PAGE_STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="subtitle">${escapeHtml(content.output)} &middot; ${escapeHtml(content.createdAt.toISOString().replace('T', ' ').slice(0, 19))} UTC</p>
${renderFacts(content)}
</header>
${content.aborted ? `<p class="banner" id="aborted">Training was aborted after ${content.history.length} completed epoch${content.history.length === 1 ? '' : 's'}: this page shows their curves; the validation details are written when a run completes.</p>` : ''}
<section class="charts">
<figure><figcaption>Loss per epoch</figcaption><div class="chart" data-chart="loss"></div></figure>
<figure><figcaption>Accuracy per epoch</figcaption><div class="chart" data-chart="accuracy"></div></figure>
<figure><figcaption>Learning rate${content.learningRates.length ? ' per update' : ' per epoch'}</figcaption><div class="chart" data-chart="learningRate"></div></figure>
</section>
${renderClassCounts(content)}
${content.review ? renderValidation(content.review, content) : content.aborted ? '' : '<p class="note">No validation images: no confusion matrix or image grid.</p>'}
${renderConfiguration(content.configuration)}
<script>${scriptSafe(uplotScript)}</script>
<script type="application/json" id="report-chart-data">${jsonForScript(chartData(content))}</script>
<script>${scriptSafe(decimalTicks.toString())};(${scriptSafe(drawReport.toString())})()</script>
</body>
</html>
`
}

/** The resolved configuration, one row per setting (nested ones as compact JSON). */
function renderConfiguration(configuration: Record<string, unknown> | null | undefined): string {
  if (!configuration) return ''
  const rows = Object.entries(configuration)
    .filter(([key]) => key !== 'format')
    .map(([key, value]) => `<tr><th scope="row">${escapeHtml(key)}</th><td>${escapeHtml(typeof value === 'string' ? value : JSON.stringify(value))}</td></tr>`)
    .join('')
  return `<details id="configuration"><summary>Configuration (config.json: every setting, defaults filled in)</summary><table>${rows}</table></details>`
}

/** A class this many times larger than another makes a folder imbalanced enough to warn. */
export const IMBALANCE_RATIO = 10

/** Training images per class, with a warning when the largest class is at least
 *  IMBALANCE_RATIO times the smallest. */
function renderClassCounts(content: ReportContent): string {
  const counts = content.classCounts
  if (!counts || counts.length !== content.classes.length || counts.length === 0) return ''
  const largest = Math.max(...counts)
  const smallest = Math.min(...counts)
  const imbalanced = largest >= IMBALANCE_RATIO * smallest
  const rows = content.classes.map((name, index) => `<span>${escapeHtml(name)}: ${counts[index]}</span>`).join(' ')
  const largestName = content.classes[counts.indexOf(largest)]
  const smallestName = content.classes[counts.indexOf(smallest)]
  const warning = imbalanced
    ? `<p class="banner" id="imbalance">Imbalanced training folder: ${escapeHtml(largestName)} has ${largest} images, ${escapeHtml(smallestName)} ${smallest} ` +
      `(at least ${IMBALANCE_RATIO}x fewer). Accuracy then favours the large classes; consider classWeights: 'balanced' and read the per-class recall below.</p>`
    : ''
  return `<p class="note" id="class-counts">Training images per class: ${rows}</p>${warning}`
}

function renderFacts(content: ReportContent): string {
  const last = content.history.at(-1)
  const totalSeconds = content.history.reduce((sum, epoch) => sum + epoch.seconds, 0)
  const facts: [string, string][] = [
    ['validation accuracy', last?.valAccuracy == null ? '-' : percent(last.valAccuracy)],
    ['validation loss', last?.valLoss == null ? '-' : last.valLoss.toFixed(4)],
    ['best epoch', content.bestEpoch === null ? '-' : `${content.bestEpoch}${content.stoppedEarly ? ' (stopped early)' : ''}`],
    ['classes', String(content.classes.length)],
    ['images', `${content.trainImages ?? '?'} train / ${content.validationImages ?? '?'} validation`],
    ['device', content.device ?? '-'],
    ['training time', formatSeconds(totalSeconds)],
  ]
  return `<dl class="facts">${facts.map(([name, value]) => `<div><dt>${escapeHtml(name)}</dt><dd>${escapeHtml(value)}</dd></div>`).join('')}</dl>`
}

function renderValidation(review: ValidationReview, content: ReportContent): string {
  const classes = review.evaluation.perClass.map((metrics) => metrics.class)
  const best = content.bestEpoch !== null && content.bestEpoch !== review.epoch ? ` The best epoch, ${content.bestEpoch}, is saved in <code>best/</code>.` : ''
  return `<section id="validation">
<h2>Validation of the final model (epoch ${review.epoch})</h2>
<p class="note">${review.evaluation.count} images: accuracy ${percent(review.evaluation.accuracy)}, top-5 ${percent(review.evaluation.top5)}, loss ${review.evaluation.loss.toFixed(4)}.${best}</p>
<div class="validation">
<figure><figcaption>Confusion matrix (rows: true class, columns: predicted; colour: share of the row)</figcaption>${renderConfusion(review.evaluation.confusion, classes)}</figure>
<figure><figcaption>Per class</figcaption>${renderPerClass(review.evaluation)}</figure>
</div>
</section>
<section id="worst">
<h2>Highest-loss validation images</h2>
<p class="note">The ${review.worst.length} validation images with the highest loss under the final model, highest first; a red frame marks a wrong prediction.</p>
<div id="worst-grid">${review.worst.map((sample) => renderSample(sample, classes)).join('')}</div>
</section>`
}

function renderConfusion(confusion: number[][], classes: string[]): string {
  const compact = classes.length > 20
  const header = classes.map((name) => `<th scope="col" title="${escapeHtml(name)}"><span>${escapeHtml(name)}</span></th>`).join('')
  const rows = confusion.map((row, actual) => {
    const total = row.reduce((sum, count) => sum + count, 0)
    const cells = row.map((count, predicted) => {
      const share = total ? count / total : 0
      const colour = predicted === actual ? `rgba(37, 99, 235, ${share.toFixed(3)})` : `rgba(220, 38, 38, ${share.toFixed(3)})`
      const tip = `${classes[actual]} predicted as ${classes[predicted]}: ${count} of ${total}`
      return `<td style="background:${colour}${share > 0.5 ? ';color:#fff' : ''}" title="${escapeHtml(tip)}">${compact || count === 0 ? '' : count}</td>`
    })
    return `<tr><th scope="row">${escapeHtml(classes[actual])}</th>${cells.join('')}</tr>`
  })
  return `<table id="confusion" class="${compact ? 'compact' : ''}"><thead><tr><th></th>${header}</tr></thead><tbody>${rows.join('')}</tbody></table>`
}

function renderPerClass(evaluation: ValidationReview['evaluation']): string {
  const rows = evaluation.perClass.map(
    (metrics) =>
      `<tr><th scope="row">${escapeHtml(metrics.class)}</th><td>${metrics.precision.toFixed(3)}</td><td>${metrics.recall.toFixed(3)}</td><td>${metrics.f1.toFixed(3)}</td><td>${metrics.support}</td></tr>`,
  )
  return `<table id="per-class"><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
}

function renderSample(sample: ReviewedSample, classes: string[]): string {
  const wrong = sample.label !== sample.predicted
  const image = sample.thumbnail.length
    ? `<img src="data:image/jpeg;base64,${sample.thumbnail.toString('base64')}" alt="${escapeHtml(classes[sample.label])}">`
    : '<div class="missing">unreadable</div>'
  return `<figure class="sample ${wrong ? 'wrong' : 'right'}" title="${escapeHtml(sample.path)}">${image}<figcaption>
<span class="true">true: ${escapeHtml(classes[sample.label] ?? '?')}</span>
<span class="predicted">predicted: ${escapeHtml(classes[sample.predicted] ?? '?')} ${percent(sample.probability)}</span>
<span class="loss">loss ${sample.loss.toFixed(3)}</span></figcaption></figure>`
}

function chartData(content: ReportContent): ChartData {
  const history = content.history
  return {
    epochs: history.map((epoch) => epoch.epoch),
    loss: history.map((epoch) => epoch.loss),
    valLoss: history.map((epoch) => epoch.valLoss),
    accuracy: history.map((epoch) => epoch.accuracy),
    valAccuracy: history.map((epoch) => epoch.valAccuracy),
    learningRate: learningRateSeries(content),
  }
}

/** Per-update rates where 'batch' events reported them, per-epoch rates elsewhere (e.g. the
 *  epochs a resumed run restored), thinned to at most MAX_RATE_POINTS. */
function learningRateSeries(content: ReportContent): ChartData['learningRate'] {
  const coveredEpochs = new Set(content.learningRates.map(([x]) => Math.ceil(x)))
  const points = [
    ...content.learningRates,
    ...content.history.filter((epoch) => !coveredEpochs.has(epoch.epoch)).map((epoch): [number, number] => [epoch.epoch, epoch.learningRate]),
  ].sort((a, b) => a[0] - b[0])
  const stride = Math.ceil(points.length / MAX_RATE_POINTS)
  const kept = points.filter((_, index) => index % stride === 0 || index === points.length - 1)
  return { x: kept.map(([x]) => x), y: kept.map(([, rate]) => rate) }
}

/** Code placed inside a <script> element must not close it early. */
function scriptSafe(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1')
}

/** JSON inside a <script> element: every `<` escaped, which JSON and HTML both accept. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c')
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char)
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`
}

function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(1)} s`
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`
  return `${(seconds / 3600).toFixed(1)} h`
}

const PAGE_STYLE = `
:root { color-scheme: light; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1360px; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; }
.subtitle, .note { color: var(--muted); margin: 4px 0 12px; }
.banner { background: #fef3c7; border: 1px solid #f59e0b; padding: 10px 14px; border-radius: 6px; }
.facts { display: flex; flex-wrap: wrap; gap: 10px; margin: 16px 0; }
.facts div { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 130px; }
.facts dt { color: var(--muted); font-size: 12px; }
.facts dd { margin: 2px 0 0; font-size: 18px; font-weight: 600; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
.charts { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 20px; margin-top: 8px; }
.chart { width: 100%; min-height: 200px; }
.validation { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 28px; align-items: start; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
#per-class { width: 100%; }
#per-class th, #per-class td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; }
#per-class th:first-child, #per-class th[scope=row] { text-align: left; }
#confusion { font-size: 12px; }
#confusion td { width: 40px; height: 34px; text-align: center; border: 1px solid #fff; }
#confusion th { font-weight: 500; padding: 2px 6px; max-width: 120px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#confusion th[scope=row] { text-align: right; }
#confusion thead th span { display: inline-block; writing-mode: vertical-rl; transform: rotate(180deg); max-height: 110px; overflow: hidden; text-overflow: ellipsis; }
#confusion.compact td { width: 10px; height: 10px; }
.validation figure { overflow-x: auto; }
#confusion.compact th { font-size: 9px; }
#worst-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
.sample { border: 2px solid var(--line); border-radius: 8px; padding: 8px; background: #fafafa; }
.sample.wrong { border-color: #fca5a5; }
.sample.right { border-color: #86efac; }
.sample img, .sample .missing { display: block; width: 96px; height: 96px; margin: 0 auto 6px; object-fit: contain; image-rendering: auto; background: #eee; }
.sample .missing { line-height: 96px; text-align: center; color: var(--muted); }
.sample figcaption { font-weight: 400; font-size: 12px; margin: 0; }
.sample figcaption span { display: block; }
.sample .predicted { font-weight: 600; }
.sample.wrong .predicted { color: #b91c1c; }
.sample .loss { color: var(--muted); }
@media (max-width: 900px) { .charts, .validation { grid-template-columns: 1fr; } }
`
