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
// (client id, secret and optionally a certificate; tenants may share a
// client id, as a multi-tenant app does) and a directory of users, groups,
// active role assignments and Conditional Access policies. The login side
// serves the OpenID configuration, instance discovery, an (empty) key set
// and the client-credentials token endpoint, which accepts a client secret
// or a certificate's signed client assertion (client_assertion.go); tokens
// are HS256-signed JWTs carrying the tenant id (tid) that selects the
// directory on the Graph side and the app's granted application
// permissions (roles). Every Graph route requires one of a set of
// permissions in the token's roles (permissions.go) and answers 403
// Authorization_RequestDenied otherwise.
//
// The Graph side routes on method and path pattern (see router.go); each
// resource area is one file that registers its routes in
// registerGraphRoutes:
//
//   - users.go: GET/PATCH /users/{id}, revokeSignInSessions
//   - ca_policies.go, ca_model.go: /identity/conditionalAccess/policies
//     (validation, 195-policy and size limits, PATCH merge semantics)
//   - auth_strengths.go: built-in authentication strengths, Security Defaults
//   - roles.go: /roleManagement/directory/roleAssignments (PIM-activated
//     assignments refuse DELETE; the last Global Administrator stays)
//   - pim.go: roleAssignmentScheduleInstances and adminRemove/adminAssign
//     roleAssignmentScheduleRequests
//   - groups.go: /groups (get, list with $filter, create)
//   - organization.go: GET /organization
//   - membership.go: memberOf/transitiveMemberOf (groups and directory
//     roles), members/$ref, and DELETE members/{id} without $ref, which
//     deletes the member object itself as Graph does
//
// Throttling (quotas.go) follows Graph: Conditional Access requests are
// limited to 1 per second per tenant and answered 429 without Retry-After
// (Options.CARequestsPerSecond); with Options.Quotas the identity quotas
// (resource units per 10 s by directory size, writes per 150 s per
// app+tenant, per 5 min per tenant and per app) answer 429 with
// Retry-After, x-ms-throttle-scope and x-ms-throttle-information.
// Options.TimeScale speeds windows up for benchmarks. Tenant.Stats and
// Tenant.WriteTimeline count the traffic.
//
// Tests inject failures with InjectFault and inspect traffic with Requests.
package graphsim
