import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it, both sides:
 * the proxy is the server toward clients and the client toward PostgreSQL.
 * No channel binding (SCRAM-SHA-256-PLUS is not offered).
 */

export const SCRAM_MECHANISM = 'SCRAM-SHA-256'
const DEFAULT_ITERATIONS = 4096

/** What PostgreSQL stores in pg_authid.rolpassword: `SCRAM-SHA-256$iter:salt$StoredKey:ServerKey`. */
export interface ScramVerifier {
  iterations: number
  salt: Buffer
  storedKey: Buffer
  serverKey: Buffer
}

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest()
const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest()
const xor = (a: Buffer, b: Buffer): Buffer => {
  const out = Buffer.allocUnsafe(a.length)
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number)
  return out
}

export function parseScramVerifier(text: string): ScramVerifier | undefined {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(text)
  if (!m) return undefined
  return {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2] as string, 'base64'),
    storedKey: Buffer.from(m[3] as string, 'base64'),
    serverKey: Buffer.from(m[4] as string, 'base64'),
  }
}

const saltedPasswords = new Map<string, Buffer>()

/** PBKDF2 is the expensive step (4096 rounds); remember it per password, salt and iteration count. */
function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  const key = `${iterations}:${salt.toString('base64')}:${createHash('sha256').update(password).digest('base64')}`
  let salted = saltedPasswords.get(key)
  if (!salted) {
    salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256')
    if (saltedPasswords.size > 1000) saltedPasswords.clear()
    saltedPasswords.set(key, salted)
  }
  return salted
}

export function verifierFromPassword(
  password: string,
  salt = randomBytes(16),
  iterations = DEFAULT_ITERATIONS,
): ScramVerifier {
  const salted = saltedPassword(password, salt, iterations)
  return { iterations, salt, storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') }
}

export function clientKeyFromPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return hmac(saltedPassword(password, salt, iterations), 'Client Key')
}

function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const part of message.split(',')) {
    const eq = part.indexOf('=')
    if (eq === 1) map.set(part[0] as string, part.slice(2))
  }
  return map
}

export class ScramError extends Error {}

/** The server side of one exchange. */
export class ScramServerExchange {
  #clientFirstBare = ''
  #serverFirst = ''
  #nonce = ''
  /** The client's key, recovered from its proof; lets the proxy authenticate upstream as that client. */
  clientKey: Buffer | undefined

  constructor(private readonly verifier: ScramVerifier) {}

  /** Takes client-first-message, returns server-first-message. */
  start(clientFirst: string): string {
    const gs2 = /^([ny])(?:=[^,]*)?,[^,]*,(.*)$/.exec(clientFirst)
    if (!gs2) throw new ScramError('malformed SCRAM client-first-message (channel binding is not supported)')
    this.#clientFirstBare = gs2[2] as string
    const clientNonce = attributes(this.#clientFirstBare).get('r')
    if (!clientNonce) throw new ScramError('SCRAM client-first-message has no nonce')
    this.#nonce = clientNonce + randomBytes(18).toString('base64')
    this.#serverFirst = `r=${this.#nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`
    return this.#serverFirst
  }

  /** Takes client-final-message; returns server-final-message, or undefined when the proof is wrong. */
  finish(clientFinal: string): string | undefined {
    const proofAt = clientFinal.lastIndexOf(',p=')
    if (proofAt < 0) throw new ScramError('SCRAM client-final-message has no proof')
    const withoutProof = clientFinal.slice(0, proofAt)
    const attrs = attributes(clientFinal)
    if (attrs.get('r') !== this.#nonce) throw new ScramError('SCRAM nonce mismatch')
    const proof = Buffer.from(attrs.get('p') ?? '', 'base64')
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`
    const clientSignature = hmac(this.verifier.storedKey, authMessage)
    if (proof.length !== clientSignature.length) return undefined
    const clientKey = xor(proof, clientSignature)
    if (!timingSafeEqual(sha256(clientKey), this.verifier.storedKey)) return undefined
    this.clientKey = clientKey
    return `v=${hmac(this.verifier.serverKey, authMessage).toString('base64')}`
  }
}

/** What the proxy needs to log in upstream as a user: a password, or a key recovered through SCRAM. */
export type UpstreamSecret =
  | { kind: 'password'; password: string }
  | { kind: 'scram-client-key'; clientKey: Buffer; serverKey?: Buffer }

/** The client side of one exchange, toward PostgreSQL. */
export class ScramClientExchange {
  readonly #clientNonce = randomBytes(18).toString('base64')
  #clientFirstBare = ''
  #expectedServerSignature: Buffer | undefined

  constructor(private readonly secret: UpstreamSecret) {}

  /** client-first-message. PostgreSQL takes the user from the startup packet, so the name is empty. */
  start(): string {
    this.#clientFirstBare = `n=,r=${this.#clientNonce}`
    return `n,,${this.#clientFirstBare}`
  }

  /** Takes server-first-message, returns client-final-message. */
  continue(serverFirst: string): string {
    const attrs = attributes(serverFirst)
    const nonce = attrs.get('r')
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64')
    const iterations = Number(attrs.get('i'))
    if (!nonce?.startsWith(this.#clientNonce) || !salt.length || !Number.isInteger(iterations)) {
      throw new ScramError('malformed SCRAM server-first-message')
    }
    let clientKey: Buffer
    let serverKey: Buffer | undefined
    if (this.secret.kind === 'password') {
      const salted = saltedPassword(this.secret.password, salt, iterations)
      clientKey = hmac(salted, 'Client Key')
      serverKey = hmac(salted, 'Server Key')
    } else {
      clientKey = this.secret.clientKey
      serverKey = this.secret.serverKey
    }
    const withoutProof = `c=biws,r=${nonce}`
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`
    const proof = xor(clientKey, hmac(sha256(clientKey), authMessage))
    this.#expectedServerSignature = serverKey ? hmac(serverKey, authMessage) : undefined
    return `${withoutProof},p=${proof.toString('base64')}`
  }

  /** Checks server-final-message when the server key is known. */
  finish(serverFinal: string): void {
    if (!this.#expectedServerSignature) return
    const v = Buffer.from(attributes(serverFinal).get('v') ?? '', 'base64')
    if (v.length !== 32 || !timingSafeEqual(v, this.#expectedServerSignature)) {
      throw new ScramError('PostgreSQL sent a wrong SCRAM server signature')
    }
  }
}
