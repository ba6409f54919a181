// The package ships no types; this is the part of its API the anomaly detector uses.
declare module 'ml-isolation-forest' {
  export interface IsolationForestOptions {
    /** Trees in the forest; default 100. */
    nEstimators?: number
  }

  export class IsolationForest {
    constructor(options?: IsolationForestOptions)
    /** Grows every tree on the whole set (no subsampling: the caller samples). */
    train(trainingSet: number[][]): void
    /** Scores in (0, 1): near 1 is isolated quickly (anomalous), around 0.5 and below is ordinary. */
    predict(data: number[][]): number[]
  }
}
