import { type EventBus, errors, type Finding, type Logger } from '@cairn/core'
import { errorMessage, sleep } from './scheduler-util.js'

export interface WebhookNotifierOptions {
  readonly bus: EventBus
  /** An incoming-webhook URL (Slack, or anything that accepts Slack's `{ text, blocks }`). */
  readonly url: string
  /** Only these kinds (default: every kind starting with `pipeline.`). Other kinds are never sent. */
  readonly kinds?: readonly string[]
  readonly log: Logger
  readonly fetch?: typeof fetch
  /** Per request (default 5 s). */
  readonly timeoutMs?: number
  /** Before the one retry (default 1 s). */
  readonly retryDelayMs?: number
}

/** Stops the notifier; `flush()` waits for the messages already accepted to be sent (or given up). */
export interface WebhookNotifier {
  (): void
  flush(): Promise<void>
}

/** A Slack-compatible message: `text` is the fallback shown in notifications, `blocks` the layout. */
export interface WebhookMessage {
  readonly text: string
  readonly blocks: readonly Record<string, unknown>[]
}

const PREFIX = 'pipeline.'
const SLACK_TEXT_LIMIT = 3_000

/**
 * Posts pipeline alerts (findings whose kind starts with `pipeline.`) to a webhook as Slack-compatible
 * JSON, one at a time and in order. Each POST has a timeout and is retried once on a network error, a
 * timeout, a 5xx, 408 or 429; a message that still fails is logged and dropped. Returns the unsubscribe.
 */
export function startWebhookNotifier(options: WebhookNotifierOptions): WebhookNotifier {
  const { bus, url, kinds, log } = options
  const post = options.fetch ?? globalThis.fetch
  const timeoutMs = options.timeoutMs ?? 5_000
  const retryDelayMs = options.retryDelayMs ?? 1_000
  const target = safeTarget(url)
  if (!/^https?:\/\//i.test(url) || target === '(invalid URL)') {
    throw errors.CONFIG_INVALID(`the alert webhook URL must be an http(s) URL (got ${target})`)
  }
  let queue: Promise<void> = Promise.resolve()

  const send = async (finding: Finding): Promise<void> => {
    const body = JSON.stringify(formatFinding(finding))
    for (let attempt = 1; attempt <= 2; attempt++) {
      let retryable = true
      let problem: string
      try {
        const res = await post(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        })
        await res.arrayBuffer().catch(() => {})
        if (res.ok) {
          log.debug({ kind: finding.kind, id: finding.id, target }, 'alert posted to webhook')
          return
        }
        problem = `HTTP ${res.status}`
        retryable = res.status >= 500 || res.status === 408 || res.status === 429
      } catch (err) {
        problem = errorMessage(err)
      }
      if (attempt === 2 || !retryable) {
        log.warn({ kind: finding.kind, id: finding.id, target, problem, attempts: attempt }, 'alert webhook failed')
        return
      }
      log.debug({ kind: finding.kind, id: finding.id, target, problem }, 'alert webhook failed; retrying once')
      await sleep(retryDelayMs)
    }
  }

  const subscription = bus.subscribe('finding', (finding) => {
    if (!finding.kind.startsWith(PREFIX)) return
    if (kinds && !kinds.includes(finding.kind)) return
    queue = queue.then(() => send(finding))
  })

  return Object.assign(() => subscription.unsubscribe(), { flush: () => queue })
}

/** The Slack message for a finding. */
export function formatFinding(finding: Finding): WebhookMessage {
  const icon =
    finding.severity === 'critical'
      ? ':rotating_light:'
      : finding.severity === 'warning'
        ? ':warning:'
        : ':information_source:'
  const evidence = finding.evidence as Record<string, unknown>
  const facts = [
    typeof evidence.dag === 'string' ? `DAG \`${escapeMrkdwn(evidence.dag)}\`` : undefined,
    evidence.dagRunId !== undefined ? `run ${escapeMrkdwn(String(evidence.dagRunId))}` : undefined,
    `${finding.severity}`,
    `source ${escapeMrkdwn(finding.source)}`,
    new Date(finding.at).toISOString(),
  ].filter((f): f is string => f !== undefined)
  return {
    text: `${icon} ${finding.reason}`,
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: truncate(`${icon} *${escapeMrkdwn(finding.kind)}*\n${escapeMrkdwn(finding.reason)}`),
        },
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(facts.join(' · ')) }] },
    ],
  }
}

/** Slack's mrkdwn control characters. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

function truncate(text: string): string {
  return text.length <= SLACK_TEXT_LIMIT ? text : `${text.slice(0, SLACK_TEXT_LIMIT - 1)}…`
}

/** Where messages go, for logs: a webhook URL's path is its secret, so only the origin is shown. */
function safeTarget(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(invalid URL)'
  }
}
