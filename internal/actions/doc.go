// Package actions holds the remediation executors, one file per action,
// and PolicyFlusher, the batched writer of the managed Conditional Access
// policies. Each executor implements remediation.Executor against the
// remediation.Directory interface (type-asserting the narrower role, group
// and policy surfaces it needs) and is idempotent: after a crash or a
// retry it runs again and changes nothing twice.
//
// Every executor refuses protected identities (guards.go) before any
// write; disable_user and the two enforce actions also refuse users who
// hold a privileged role unless the job confirms admin targets. A dry run
// only reads and returns what a real run would do, with a "preview" in
// Results; an undo job restores what the original item recorded as its
// prior state.
package actions
