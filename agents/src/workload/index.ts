export type { ClusterMember, KnownCluster, WorkloadCluster, WorkloadClustering } from './cluster-workload.js'
export type { FingerprintProfile } from './fingerprint-tally.js'
export {
  type ArrivalForecast,
  type ArrivalForecastOptions,
  type ForecastError,
  forecastArrivals,
  type HorizonForecast,
} from './forecast-arrivals.js'
export {
  useWorkloadClusterer,
  type WorkloadClusterer,
  type WorkloadClustererOptions,
  type WorkloadClusterRef,
} from './use-workload-clusterer.js'
export { CLUSTERING_CRITERION, type IdentifiedCluster } from './workload-findings.js'
