// Package clustertest holds the cluster's multi-process tests: real
// `almanac serve` processes, built once from cmd/almanac, killed with
// SIGKILL and started again. They live apart from cmd/almanac's tests so
// that `go test ./...` runs them beside that package instead of after
// it: most of their time is nodes waiting for nats-server's RAFT
// elections, not the CPU. The package has no code of its own.
package clustertest
