import { seededRandom } from '../seeded-random.js'
/**
 * Gradient-boosted regression trees, squared loss, written here because no
 * well-kept JavaScript library has them (mljs offers CART and random forests
 * only). Splits are searched on per-feature quantile histograms, so a tree
 * costs O(rows × features) per level whatever the number of distinct values.
 *
 * Features are read as float32 and thresholds are float32 values, exactly as an
 * ONNX TreeEnsembleRegressor compares them, so the exported model takes the
 * same branches as this one.
 */

export interface GradientBoostedTreesOptions {
  /** Boosting rounds. Default 300. */
  readonly trees?: number
  /** Shrinkage applied to every leaf. Default 0.08. */
  readonly learningRate?: number
  /** Depth limit of each tree (a depth-4 tree has up to 16 leaves). Default 4. */
  readonly maxDepth?: number
  /** A split is only taken when both sides keep at least this many rows. Default 3. */
  readonly minSamplesLeaf?: number
  /** Histogram bins per feature (quantiles of the training values). At most 255. Default 64. */
  readonly maxBins?: number
  /** L2 penalty on leaf values: a leaf predicts sum(residual) / (rows + l2). Default 1. */
  readonly l2?: number
  /** Fraction of rows each tree is grown on (stochastic boosting). Default 0.8. */
  readonly subsample?: number
  /** Seed of the row sampling, so training is repeatable. Default 1. */
  readonly seed?: number
}

export interface RegressionTree {
  /** Per node: the feature tested, or -1 for a leaf. */
  readonly feature: number[]
  /** Per branch: the row goes left when its float32 feature value is ≤ this float32 threshold. */
  readonly threshold: number[]
  readonly left: number[]
  readonly right: number[]
  /** Per leaf: its contribution, learning rate applied, a float32 value; 0 for branches. */
  readonly value: number[]
}

/** A trained ensemble: plain data, so it crosses a worker boundary and serializes as JSON. */
export interface GradientBoostedTreesModel {
  readonly algorithm: 'gradient-boosted-trees'
  readonly featureCount: number
  /** The starting prediction (mean target), a float32 value. */
  readonly baseScore: number
  readonly trees: RegressionTree[]
  /** Total squared-error reduction won by splits on each feature. */
  readonly importance: number[]
  readonly options: Required<GradientBoostedTreesOptions>
}

const defaults: Required<GradientBoostedTreesOptions> = {
  trees: 300,
  learningRate: 0.08,
  maxDepth: 4,
  minSamplesLeaf: 3,
  maxBins: 64,
  l2: 1,
  subsample: 0.8,
  seed: 1,
}

// A split must reduce the squared error by more than this to be worth a branch.
const MIN_GAIN = 1e-9

/** Fits the ensemble to `targets` (one per row; every row has the same number of finite features). */
export function trainGradientBoostedTrees(
  rows: readonly (readonly number[])[],
  targets: readonly number[],
  options: GradientBoostedTreesOptions = {},
): GradientBoostedTreesModel {
  const merged = { ...defaults, ...options }
  const o: Required<GradientBoostedTreesOptions> = {
    ...merged,
    maxBins: Math.max(2, Math.min(255, Math.floor(merged.maxBins))),
  }
  const n = rows.length
  if (n === 0 || targets.length !== n)
    throw new RangeError(`need rows and one target per row (${n} rows, ${targets.length} targets)`)
  const featureCount = rows[0]?.length ?? 0
  const x = new Float32Array(n * featureCount)
  for (let i = 0; i < n; i++) {
    const row = rows[i] as readonly number[]
    if (row.length !== featureCount)
      throw new RangeError(`row ${i} has ${row.length} features, expected ${featureCount}`)
    for (let f = 0; f < featureCount; f++) x[i * featureCount + f] = row[f] as number
  }
  const binned = binFeatures(x, n, featureCount, o.maxBins)

  let mean = 0
  for (const t of targets) mean += t
  const baseScore = Math.fround(mean / n)
  const prediction = new Float64Array(n).fill(baseScore)
  const residual = new Float64Array(n)
  const importance = new Array<number>(featureCount).fill(0)
  const random = seededRandom(o.seed)
  const trees: RegressionTree[] = []
  const grower = new TreeGrower(binned, residual, o, importance)

  for (let t = 0; t < o.trees; t++) {
    for (let i = 0; i < n; i++) residual[i] = (targets[i] as number) - (prediction[i] as number)
    const chosen: number[] = []
    for (let i = 0; i < n; i++) if (o.subsample >= 1 || random() < o.subsample) chosen.push(i)
    if (chosen.length < 2 * o.minSamplesLeaf) continue
    const tree = grower.grow(Uint32Array.from(chosen))
    trees.push(tree)
    for (let i = 0; i < n; i++) prediction[i] = (prediction[i] as number) + predictTree(tree, x, i * featureCount)
  }
  return { algorithm: 'gradient-boosted-trees', featureCount, baseScore, trees, importance, options: o }
}

/** The ensemble's prediction for one row. */
export function predictGradientBoostedTrees(model: GradientBoostedTreesModel, row: ArrayLike<number>): number {
  if (row.length !== model.featureCount)
    throw new RangeError(`row has ${row.length} features, the model takes ${model.featureCount}`)
  const x = Float32Array.from(row)
  let sum = model.baseScore
  for (const tree of model.trees) sum += predictTree(tree, x, 0)
  return sum
}

function predictTree(tree: RegressionTree, x: Float32Array, offset: number): number {
  let node = 0
  for (;;) {
    const f = tree.feature[node] as number
    if (f < 0) return tree.value[node] as number
    node =
      (x[offset + f] as number) <= (tree.threshold[node] as number)
        ? (tree.left[node] as number)
        : (tree.right[node] as number)
  }
}

interface BinnedFeatures {
  readonly rows: number
  readonly featureCount: number
  /** Column-major bin index of each value: bins[f * rows + i]. */
  readonly bins: Uint8Array
  /** Per feature, the ascending upper edge (largest training value) of each bin. */
  readonly edges: Float32Array[]
  /** Per feature, the smallest training value of each bin. */
  readonly lows: Float32Array[]
}

/** Quantile bins per feature: every distinct value its own bin when there are few, else equal-count bins. */
function binFeatures(x: Float32Array, n: number, featureCount: number, maxBins: number): BinnedFeatures {
  const bins = new Uint8Array(n * featureCount)
  const edges: Float32Array[] = []
  const lows: Float32Array[] = []
  const column = new Float32Array(n)
  for (let f = 0; f < featureCount; f++) {
    for (let i = 0; i < n; i++) column[i] = x[i * featureCount + f] as number
    const sorted = Float32Array.from(column).sort()
    const distinct: number[] = []
    for (const v of sorted) if (distinct.length === 0 || v !== distinct[distinct.length - 1]) distinct.push(v)
    let e: number[]
    if (distinct.length <= maxBins) e = distinct
    else {
      e = []
      for (let k = 1; k <= maxBins; k++) {
        const v = sorted[Math.min(n - 1, Math.ceil((k * n) / maxBins) - 1)] as number
        if (e.length === 0 || v > (e[e.length - 1] as number)) e.push(v)
      }
    }
    const fe = Float32Array.from(e)
    const low = new Float32Array(fe.length)
    for (let i = n - 1, b = fe.length - 1; i >= 0; i--) {
      const v = sorted[i] as number
      while (b > 0 && v <= (fe[b - 1] as number)) b--
      low[b] = v
    }
    edges.push(fe)
    lows.push(low)
    for (let i = 0; i < n; i++) bins[f * n + i] = lowerBound(fe, column[i] as number)
  }
  return { rows: n, featureCount, bins, edges, lows }
}

/** The first index whose edge is ≥ v. */
function lowerBound(edges: Float32Array, v: number): number {
  let lo = 0
  let hi = edges.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((edges[mid] as number) >= v) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** Grows one depth-limited tree on the residuals of the rows it is given. */
class TreeGrower {
  readonly #binned: BinnedFeatures
  readonly #residual: Float64Array
  readonly #o: Required<GradientBoostedTreesOptions>
  readonly #importance: number[]
  readonly #sums: Float64Array
  readonly #counts: Uint32Array

  constructor(
    binned: BinnedFeatures,
    residual: Float64Array,
    options: Required<GradientBoostedTreesOptions>,
    importance: number[],
  ) {
    this.#binned = binned
    this.#residual = residual
    this.#o = options
    this.#importance = importance
    this.#sums = new Float64Array(options.maxBins + 1)
    this.#counts = new Uint32Array(options.maxBins + 1)
  }

  grow(rows: Uint32Array): RegressionTree {
    const tree: RegressionTree = { feature: [], threshold: [], left: [], right: [], value: [] }
    this.#node(tree, rows, 0)
    return tree
  }

  #node(tree: RegressionTree, rows: Uint32Array, depth: number): number {
    const id = tree.feature.length
    tree.feature.push(-1)
    tree.threshold.push(0)
    tree.left.push(0)
    tree.right.push(0)
    tree.value.push(0)
    const { l2, learningRate, minSamplesLeaf, maxDepth } = this.#o
    let total = 0
    for (const i of rows) total += this.#residual[i] as number
    const split = depth < maxDepth && rows.length >= 2 * minSamplesLeaf ? this.#bestSplit(rows, total) : undefined
    if (!split) {
      tree.value[id] = Math.fround((learningRate * total) / (rows.length + l2))
      return id
    }
    const { bins, rows: n, edges, lows } = this.#binned
    const leftRows: number[] = []
    const rightRows: number[] = []
    for (const i of rows)
      (((bins[split.feature * n + i] as number) <= split.bin ? leftRows : rightRows) as number[]).push(i)
    const lower = (edges[split.feature] as Float32Array)[split.bin] as number
    const upper = (lows[split.feature] as Float32Array)[split.bin + 1] as number
    // Halfway between the two bins generalizes best; fall back to the left edge where float32 cannot fit between.
    const mid = Math.fround((lower + upper) / 2)
    tree.feature[id] = split.feature
    tree.threshold[id] = mid < upper ? mid : lower
    this.#importance[split.feature] = (this.#importance[split.feature] as number) + split.gain
    tree.left[id] = this.#node(tree, Uint32Array.from(leftRows), depth + 1)
    tree.right[id] = this.#node(tree, Uint32Array.from(rightRows), depth + 1)
    return id
  }

  #bestSplit(rows: Uint32Array, total: number): { feature: number; bin: number; gain: number } | undefined {
    const { bins, rows: n, featureCount, edges } = this.#binned
    const { l2, minSamplesLeaf } = this.#o
    const sums = this.#sums
    const counts = this.#counts
    const count = rows.length
    const parentScore = (total * total) / (count + l2)
    let best: { feature: number; bin: number; gain: number } | undefined
    for (let f = 0; f < featureCount; f++) {
      const binCount = (edges[f] as Float32Array).length
      if (binCount < 2) continue
      sums.fill(0, 0, binCount)
      counts.fill(0, 0, binCount)
      const base = f * n
      for (const i of rows) {
        const b = bins[base + i] as number
        sums[b] = (sums[b] as number) + (this.#residual[i] as number)
        counts[b] = (counts[b] as number) + 1
      }
      let leftSum = 0
      let leftCount = 0
      for (let b = 0; b < binCount - 1; b++) {
        leftSum += sums[b] as number
        leftCount += counts[b] as number
        const rightCount = count - leftCount
        if (leftCount < minSamplesLeaf) continue
        if (rightCount < minSamplesLeaf) break
        const rightSum = total - leftSum
        const gain = (leftSum * leftSum) / (leftCount + l2) + (rightSum * rightSum) / (rightCount + l2) - parentScore
        if (gain > MIN_GAIN && (!best || gain > best.gain)) best = { feature: f, bin: b, gain }
      }
    }
    return best
  }
}
