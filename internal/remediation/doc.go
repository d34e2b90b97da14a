// Package remediation holds the domain of Entra Remediator: tenants, jobs,
// items, actions, the error vocabulary and the interfaces that the adapters
// (history store, Graph client, queue, API, worker) implement or consume.
//
// It imports no infrastructure: no echo, asynq, SQL driver or Graph SDK.
package remediation
