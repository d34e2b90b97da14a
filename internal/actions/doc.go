// Package actions holds the remediation executors, one file per action.
// Each implements remediation.Executor against the remediation.Directory
// interface and is idempotent: after a crash or a retry it runs again and
// changes nothing twice.
package actions
