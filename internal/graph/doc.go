// Package graph implements remediation.Directories and
// remediation.FullDirectory (users, Conditional Access policies, directory
// role assignments and PIM schedule requests, groups and memberships) with
// msgraph-sdk-go and azidentity. It is the only package of the module
// that imports the Graph SDK, kiota or azidentity; nothing it exports
// mentions their types.
//
// A Connector keeps one credential (client secret or certificate, from the
// sealed remediation.Credential) and one Graph client per tenant, and
// implements remediation.Verifier (token, granted app roles, one harmless
// read). The SDK never retries nor sleeps: its retry middleware is left
// out (the queue owns retries) and the token requests are made without
// azcore retries. Every call is recorded in the remediation.CallLog of its
// context and logged, successes included, and every failure is returned as
// a *remediation.GraphError.
package graph
