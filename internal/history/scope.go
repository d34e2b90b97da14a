package history

import (
	"slices"
	"strconv"
	"strings"
)

// maxUnionTenants is the largest tenant set listed as one UNION ALL branch
// per tenant; a larger set becomes one IN list.
const maxUnionTenants = 32

// tenantScope combines a filter's TenantID and TenantIDs (a scoped key's
// tenants) into the tenants a listing is limited to. limited is false when
// neither is set. When both are set the result is their intersection,
// which may be empty: then nothing matches. Tenant ids are compared
// exactly, as the database compares them.
func tenantScope(one string, set []string) (tenants []string, limited bool) {
	if len(set) == 0 {
		if one == "" {
			return nil, false
		}
		return []string{one}, true
	}
	if one != "" {
		if slices.Contains(set, one) {
			return []string{one}, true
		}
		return []string{}, true
	}
	tenants = make([]string, 0, len(set))
	for _, t := range set {
		if t != "" && !slices.Contains(tenants, t) {
			tenants = append(tenants, t)
		}
	}
	return tenants, true
}

// listQuery is one newest-first listing: "SELECT cols FROM table", its
// conditions (placeholders from a), its ORDER BY (unqualified columns)
// and its LIMIT placeholder.
type listQuery struct {
	sel   string
	where []string
	order string
	limit string
}

// scoped returns the SQL of q limited to tenants through column col.
//
// One tenant is one more condition. Several tenants become one branch per
// tenant, each ordered and limited on its own, merged by UNION ALL and
// ordered and limited again: each branch reads at most limit entries of
// an index beginning with the tenant, where one IN list would make the
// database read or sort every row of those tenants. Sets larger than
// maxUnionTenants fall back to the IN list. tenants must not be empty.
func (q listQuery) scoped(a *args, col string, tenants []string) string {
	switch {
	case len(tenants) == 1:
		return q.sql(col + " = " + a.add(tenants[0]))
	case len(tenants) > maxUnionTenants:
		in := make([]string, len(tenants))
		for i, t := range tenants {
			in[i] = a.add(t)
		}
		return q.sql(col + " IN (" + strings.Join(in, ", ") + ")")
	}
	branches := make([]string, len(tenants))
	for i, t := range tenants {
		branches[i] = "SELECT * FROM (" + q.sql(col+" = "+a.add(t)) + ") AS b" + strconv.Itoa(i)
	}
	return "SELECT * FROM (" + strings.Join(branches, " UNION ALL ") + ") AS u ORDER BY " + q.order + " LIMIT " + q.limit
}

// sql returns q with the extra conditions.
func (q listQuery) sql(extra ...string) string {
	return q.sel + whereClause(append(slices.Clip(q.where), extra...)) + " ORDER BY " + q.order + " LIMIT " + q.limit
}
