// Reliability tests: concurrency. Each fault ends in the expected state with an error that
// names its cause (docs/reliability.md).
