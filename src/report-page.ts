// The script of report.html, run by the browser: draws the charts with uPlot (inlined into
// the page before this script) and marks on <body> when the charts are drawn and the
// thumbnails decoded, so that tests and tools can tell a finished page from a broken one.
// It is embedded with Function.prototype.toString, so it must reference nothing outside itself
// but `decimalTicks`, which report-html.ts embeds beside it.
import type uPlotClass from 'uplot'

/** The data the page script reads from <script id="report-chart-data">. */
export interface ChartData {
  epochs: number[]
  loss: (number | null)[]
  valLoss: (number | null)[]
  accuracy: (number | null)[]
  valAccuracy: (number | null)[]
  /** The learning rate per update (x: fractional epoch), or per epoch where steps are unknown. */
  learningRate: { x: number[]; y: number[] }
}

/** Axis labels for `ticks` (evenly spaced) with the fewest decimals that still tell each
 *  tick's exact value: a learning rate of 0.001 gets 0.0002, 0.0004, ... rather than uPlot's
 *  default "0.001, 0.001, 0, 0". */
export function decimalTicks(_: unknown, ticks: number[]): string[] {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(ticks[0] ?? 0)
  const tolerance = (step || 1) * 1e-6
  let digits = 0
  while (digits < 12 && !ticks.every((tick) => Math.abs(Number(tick.toFixed(digits)) - tick) <= tolerance)) digits += 1
  return ticks.map((tick) => (Math.abs(tick) <= tolerance ? '0' : tick.toFixed(digits)))
}

export function drawReport(): void {
  const UPlot = (window as unknown as { uPlot: typeof uPlotClass }).uPlot
  const body = document.body
  const source = document.getElementById('report-chart-data')
  const data = JSON.parse(source?.textContent ?? 'null') as ChartData | null
  const charts = Array.from(document.querySelectorAll<HTMLElement>('[data-chart]'))
  let drawn = 0

  const percent = (_: unknown, ticks: number[]) => ticks.map((tick) => `${Math.round(tick * 100)}%`)
  const epochTicks = (_: unknown, ticks: number[]) => ticks.map((tick) => (Number.isInteger(tick) ? String(tick) : ''))
  const line = (label: string, stroke: string, dash?: number[]): uPlotClass.Series => ({
    label,
    stroke,
    width: 2,
    dash,
    spanGaps: false,
    points: { show: true, size: 5 },
  })

  const specs: Record<string, () => [uPlotClass.Series[], uPlotClass.AlignedData, uPlotClass.Axis.Values | undefined, uPlotClass.Scale]> = {
    loss: () => [
      [line('train loss', '#2563eb'), line('validation loss', '#dc2626', [6, 4])],
      [data!.epochs, data!.loss, data!.valLoss],
      undefined,
      {},
    ],
    accuracy: () => [
      [line('train accuracy', '#2563eb'), line('validation accuracy', '#dc2626', [6, 4])],
      [data!.epochs, data!.accuracy, data!.valAccuracy],
      percent,
      { range: (_u, min, max) => [Math.max(0, Math.min(min ?? 0, 0.9) - 0.05), Math.min(1, (max ?? 1) + 0.02)] },
    ],
    learningRate: () => [
      [{ ...line('learning rate', '#059669'), points: { show: data!.learningRate.x.length <= 60, size: 4 } }],
      [data!.learningRate.x, data!.learningRate.y],
      decimalTicks,
      { range: (_u, _min, max) => [0, (max ?? 1) * 1.08] },
    ],
  }

  // An element's box in page pixels, for checks of a screenshot.
  const markRect = (element: Element, target: HTMLElement) => {
    const rect = element.getBoundingClientRect()
    target.dataset.rect = [rect.left + window.scrollX, rect.top + window.scrollY, rect.width, rect.height].map(Math.round).join(',')
  }
  const markDrawn = (chart: HTMLElement, plot: uPlotClass) => {
    if (chart.dataset.drawn === 'true') return
    chart.dataset.drawn = 'true'
    markRect(plot.over, chart)
    drawn += 1
    body.dataset.chartsDrawn = String(drawn)
  }

  for (const chart of charts) {
    const spec = data ? specs[chart.dataset.chart ?? ''] : undefined
    if (!spec) continue
    const [series, columns, values, scale] = spec()
    const width = Math.max(280, chart.clientWidth)
    new UPlot(
      {
        width,
        height: Math.round(width * 0.7),
        scales: { x: { time: false }, y: scale },
        series: [{ label: 'epoch', value: (_u, v) => (v == null ? '-' : v.toFixed(2)) }, ...series],
        axes: [{ label: 'epoch', values: epochTicks }, { values, size: 60 }],
        legend: { live: false },
        cursor: { show: false },
        hooks: { draw: [(plot) => markDrawn(chart, plot)] },
      },
      columns,
      chart,
    )
  }
  body.dataset.chartsExpected = String(charts.length)
  body.dataset.chartsDrawn = String(drawn)

  const grid = document.getElementById('worst-grid')
  if (grid) markRect(grid, grid)
  const images = Array.from(document.querySelectorAll<HTMLImageElement>('#worst-grid img'))
  void Promise.all(images.map((image) => image.decode().then(() => true, () => false))).then((loaded) => {
    body.dataset.imagesLoaded = String(loaded.filter(Boolean).length)
    body.dataset.imagesFailed = String(loaded.filter((ok) => !ok).length)
    if (grid) markRect(grid, grid)
    body.dataset.reportReady = 'true'
  })
}
