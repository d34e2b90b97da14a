// Package graphsim simulates the part of Microsoft Graph v1.0 and of the
// Entra ID (Azure AD) v2.0 token endpoint that Entra Remediator uses, over
// HTTPS with its own certificate authority.
//
// It is a product component (tests, demo, benchmarks), not a lenient mock:
// status codes, error codes and messages, and response headers follow the
// project's Graph reference notes (graph.md) and Microsoft's documentation,
// so that the real msgraph-sdk-go and azidentity clients can be exercised
// against it.
//
// One Server holds many tenants. Each tenant has one app registration
// (client id and secret) and a directory of users. The login side serves the
// OpenID configuration, instance discovery, an (empty) key set and the
// client-credentials token endpoint; tokens are HS256-signed JWTs carrying
// the tenant id (tid) that selects the directory on the Graph side.
//
// The Graph side routes on method and path pattern (see router.go), so new
// resource areas (Conditional Access policies, role assignments, groups,
// throttling quotas) are added as one file each that registers its routes in
// registerGraphRoutes.
//
// Tests inject failures with InjectFault and inspect traffic with Requests.
package graphsim
