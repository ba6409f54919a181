import { clusterLabel, type TemplateClass, templateClass } from './cluster-label.js'
import type { FingerprintProfile } from './fingerprint-tally.js'
import { euclidean, kMeansBySilhouette } from './k-means-by-silhouette.js'
import { type ClusterMatch, matchClusters } from './match-clusters.js'
import { fitFeatureScaling, scaleFeatures, TEMPLATE_FEATURES, templateFeatures } from './template-features.js'
import { loadTemplateParser, type TemplateShape, templateShape } from './template-shape.js'

/** A cluster as it was last persisted: what the new clustering is matched against. */
export interface KnownCluster {
  readonly id: number
  readonly label: string
  readonly members: readonly string[]
  /** Feature name → the members' mean raw feature. */
  readonly centroid: Readonly<Record<string, number>>
}

export interface ClusterWorkloadInput {
  /** Sorted by fingerprint, so the answer does not depend on arrival order. */
  readonly profiles: readonly FingerprintProfile[]
  readonly previous: readonly KnownCluster[]
  readonly maxK: number
  readonly seed: number
  readonly restarts: number
  /** The most executed templates that k-means sees; the rest join their nearest cluster. */
  readonly maxClustered: number
  readonly minJaccard: number
  readonly maxCentroidDistance: number
}

export interface ClusterMember {
  readonly fingerprint: string
  readonly normalizedText: string
  readonly executions: number
  readonly class: TemplateClass
}

export interface WorkloadCluster extends ClusterMatch {
  readonly label: string
  /** Sorted by fingerprint. */
  readonly members: readonly ClusterMember[]
  readonly executions: number
  readonly centroid: Readonly<Record<string, number>>
  /** e^(mean ln(1 + x)) − 1 over the members: a typical row count and duration. */
  readonly typicalRows: number
  readonly typicalDurationMs: number
}

export interface WorkloadClustering {
  readonly k: number
  readonly silhouette: number | null
  readonly tried: readonly { readonly k: number; readonly silhouette: number }[]
  /** Templates k-means saw (the rest were assigned to the nearest centroid). */
  readonly clustered: number
  /** Templates whose text did not parse (their shape came from the proxy's analysis). */
  readonly unparsed: number
  /** Continuing clusters first (by id), then new ones (most executed first). */
  readonly clusters: readonly WorkloadCluster[]
  readonly retired: readonly number[]
}

/**
 * Worker task: features of every template, seeded k-means with k chosen by the
 * best mean silhouette over k = 2..min(maxK, n − 1), then identities matched to
 * the previous clusters and a label per cluster.
 */
export async function clusterWorkload(input: ClusterWorkloadInput): Promise<WorkloadClustering> {
  await loadTemplateParser()
  const profiles = input.profiles
  const shapes = profiles.map((p) =>
    templateShape([p.text, p.normalizedText], { kind: p.kind, relations: p.relations, columns: p.columns }),
  )
  const raw = profiles.map((p, i) => templateFeatures(shapes[i] as TemplateShape, p))
  const chosen = profiles
    .map((p, i) => ({ i, executions: p.executions }))
    .sort((a, b) => b.executions - a.executions || a.i - b.i)
    .slice(0, input.maxClustered)
    .map((x) => x.i)
    .sort((a, b) => a - b)
  const scaling = fitFeatureScaling(chosen.map((i) => raw[i] as number[]))
  const points = raw.map((r) => scaleFeatures(r, scaling))
  const choice = kMeansBySilhouette(
    chosen.map((i) => points[i] as number[]),
    { maxK: input.maxK, seed: input.seed, restarts: input.restarts },
  )
  const labels = new Array<number>(profiles.length).fill(-1)
  chosen.forEach((i, at) => {
    labels[i] = choice.labels[at] as number
  })
  const centroidOf = (members: readonly number[]) => meanOf(members.map((i) => points[i] as number[]))
  const seen = groups(labels, choice.k)
  const centroids = seen.map(centroidOf)
  for (let i = 0; i < profiles.length; i++) {
    if (labels[i] !== -1) continue
    const p = points[i] as number[]
    let best = 0
    for (let c = 1; c < centroids.length; c++) {
      if (euclidean(p, centroids[c] as number[]) < euclidean(p, centroids[best] as number[])) best = c
    }
    labels[i] = best
  }
  const members = groups(labels, choice.k)
  const previous = input.previous.map((p) => ({
    id: p.id,
    members: p.members,
    centroid: TEMPLATE_FEATURES.every((f) => typeof p.centroid[f.name] === 'number')
      ? scaleFeatures(
          TEMPLATE_FEATURES.map((f) => p.centroid[f.name] as number),
          scaling,
        )
      : null,
  }))
  const current = members.map((m) => ({
    members: m.map((i) => (profiles[i] as FingerprintProfile).fingerprint),
    centroid: centroidOf(m),
  }))
  const { matches, retired } = matchClusters(previous, current, {
    minJaccard: input.minJaccard,
    maxCentroidDistance: input.maxCentroidDistance,
  })
  const clusters = members.map((m, c): Omit<WorkloadCluster, 'label'> & { label: string } => {
    const rawCentroid = meanOf(m.map((i) => raw[i] as number[]))
    const at = (name: string) => rawCentroid[TEMPLATE_FEATURES.findIndex((f) => f.name === name)] as number
    const match = matches[c] as ClusterMatch
    // Same members, same name: rates drifting across a threshold of the label must not rename a cluster.
    const kept = match.jaccard === 1 ? input.previous.find((p) => p.id === match.id)?.label : undefined
    return {
      ...match,
      label:
        kept ??
        clusterLabel(
          m.map((i) => ({
            shape: shapes[i] as TemplateShape,
            medianLogRows: (profiles[i] as FingerprintProfile).medianLogRows,
            executions: (profiles[i] as FingerprintProfile).executions,
          })),
        ),
      members: m.map((i) => {
        const p = profiles[i] as FingerprintProfile
        return {
          fingerprint: p.fingerprint,
          normalizedText: p.normalizedText,
          executions: p.executions,
          class: templateClass(shapes[i] as TemplateShape, p.medianLogRows),
        }
      }),
      executions: m.reduce((n, i) => n + (profiles[i] as FingerprintProfile).executions, 0),
      centroid: Object.fromEntries(TEMPLATE_FEATURES.map((f, d) => [f.name, rawCentroid[d] as number])),
      typicalRows: Math.expm1(at('rows.meanLog')),
      typicalDurationMs: Math.expm1(at('duration.meanLog')),
    }
  })
  clusters.sort((a, b) =>
    a.id !== null && b.id !== null
      ? a.id - b.id
      : a.id !== null
        ? -1
        : b.id !== null
          ? 1
          : b.executions - a.executions ||
            ((a.members[0]?.fingerprint ?? '') < (b.members[0]?.fingerprint ?? '') ? -1 : 1),
  )
  // Two clusters may earn the same words; a number tells them apart.
  const used = new Map<string, number>()
  for (const cluster of clusters) {
    const n = (used.get(cluster.label) ?? 0) + 1
    used.set(cluster.label, n)
    if (n > 1) cluster.label = `${cluster.label} (${n})`
  }
  return {
    k: members.length,
    silhouette: choice.silhouette,
    tried: choice.tried,
    clustered: chosen.length,
    unparsed: shapes.filter((s) => !s.parsed).length,
    clusters,
    retired,
  }
}

/** Indices per label, empty labels dropped. */
function groups(labels: readonly number[], k: number): number[][] {
  const out: number[][] = Array.from({ length: k }, () => [])
  labels.forEach((l, i) => {
    if (l >= 0) out[l]?.push(i)
  })
  return out.filter((g) => g.length > 0)
}

function meanOf(rows: readonly (readonly number[])[]): number[] {
  const dims = rows[0]?.length ?? 0
  const mean = new Array<number>(dims).fill(0)
  for (const row of rows)
    for (let d = 0; d < dims; d++) mean[d] = (mean[d] as number) + (row[d] as number) / rows.length
  return mean
}
