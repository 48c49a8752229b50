// Security tests: the output escaping boundary. Each case is an attack by a local user, an
// administrator or a hostile server, asserting the secure outcome (docs/security.md).
