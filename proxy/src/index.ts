export { AuthQueryStore, type CredentialStore, credentialFrom, UsersFileStore } from './auth/credential-store.js'
export { parseScramVerifier, verifierFromPassword } from './auth/scram.js'
export { ProxyServer, type ProxyServerOptions } from './proxy-server.js'
export type { StatementRecord, StatementSink } from './telemetry/statement-record.js'
