import { randomUUID } from 'node:crypto'
import { type Observable, Subject, type Subscription } from 'rxjs'
import { type DeepReadonly, deepFreeze } from './deep-freeze.js'
import type { Finding } from './finding.js'
import type { QueryEvent } from './query-event.js'

/**
 * A request to act on a recommended change, from the CLI, the API or an agent;
 * the actuator answers with findings (`action.*`).
 */
export type ActionCommand = DeepReadonly<{
  type: 'approve' | 'apply' | 'rollback' | 'reject'
  actionId: string
  /** Who asked: a user name, `cli`, or an agent's name. */
  actor: string
  reason?: string
}>

/** The typed channels of the bus. */
export interface BusEvents {
  query: QueryEvent
  finding: Finding
  command: ActionCommand
}

export type NewFinding = Omit<Finding, 'id' | 'at'> & Partial<Pick<Finding, 'id' | 'at'>>

/**
 * The in-process event bus. Everything published is deep-frozen first, so a
 * subscriber can never change what another subscriber sees. Subscribe through
 * `subscribe()` to have a throwing handler isolated (its error goes to
 * `onSubscriberError`, the bus and the other subscribers go on); raw
 * `events$`/`findings$` subscribers handle their own errors, as in RxJS.
 */
export class EventBus {
  readonly #subjects: { [K in keyof BusEvents]: Subject<BusEvents[K]> } = {
    query: new Subject(),
    finding: new Subject(),
    command: new Subject(),
  }
  readonly events$: Observable<QueryEvent> = this.#subjects.query.asObservable()
  readonly findings$: Observable<Finding> = this.#subjects.finding.asObservable()

  constructor(private readonly onSubscriberError: (err: unknown) => void = () => {}) {}

  publish<K extends keyof BusEvents>(channel: K, event: BusEvents[K]): BusEvents[K] {
    const frozen = deepFreeze(event) as BusEvents[K]
    this.#subjects[channel].next(frozen)
    return frozen
  }

  /** Publishes a finding, giving it an id and a time when it has none. */
  publishFinding(finding: NewFinding): Finding {
    return this.publish('finding', { id: randomUUID(), at: Date.now(), ...finding } as Finding)
  }

  on<K extends keyof BusEvents>(channel: K): Observable<BusEvents[K]> {
    return this.#subjects[channel].asObservable() as Observable<BusEvents[K]>
  }

  /** Subscribes a handler whose exceptions are reported, not propagated. */
  subscribe<K extends keyof BusEvents>(channel: K, handler: (event: BusEvents[K]) => void): Subscription {
    return this.#subjects[channel].subscribe((event) => {
      try {
        handler(event as BusEvents[K])
      } catch (err) {
        this.onSubscriberError(err)
      }
    })
  }

  complete(): void {
    for (const subject of Object.values(this.#subjects)) subject.complete()
  }
}
