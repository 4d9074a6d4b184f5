package server

// The API's endpoints are written down here, in one list: each group of
// a noun's endpoints with the parts of the server it needs, as a
// containerd plugin declares what it requires. A new noun adds its group
// to routeGroups; nothing is registered from init.

// part is a part of the server that some endpoints need (a field of
// Deps that may be nil).
type part string

const (
	partCatalog part = "catalog" // Deps.Catalog: datasets
	partJobs    part = "jobs"    // Deps.Jobs: images and jobs
	partExports part = "exports" // Deps.Exports: output checks and releases
)

// has reports whether the server was given part p.
func (s *Server) has(p part) bool {
	switch p {
	case partCatalog:
		return s.Catalog != nil
	case partJobs:
		return s.Jobs != nil
	case partExports:
		return s.Exports != nil
	}
	return false
}

// routeGroup is the endpoints of one noun and the parts they need: a group
// whose parts the server was not given is not served (and is not in the
// API document).
type routeGroup struct {
	name     string
	requires []part
	routes   func(*Server) []route
}

// routeGroups is every group of endpoints, in the order of the API
// document.
var routeGroups = []routeGroup{
	{"meta", nil, (*Server).metaRoutes},
	{"people", nil, (*Server).peopleRoutes},
	{"datasets", []part{partCatalog}, (*Server).datasetRoutes},
	{"uploads", []part{partCatalog}, (*Server).uploadRoutes},
	{"applications", []part{partCatalog}, (*Server).applicationRoutes},
	{"grant-ends", nil, (*Server).grantEndRoutes},
	{"jobs", []part{partCatalog, partJobs}, (*Server).jobRoutes},
	{"exports", []part{partJobs, partExports}, (*Server).exportRoutes},
	{"incidents", nil, (*Server).incidentRoutes},
	{"services", []part{partCatalog}, (*Server).serviceRoutes},
	{"objections", []part{partCatalog}, (*Server).objectionRoutes},
	{"usage", nil, (*Server).usageRoutes},
	{"policy", nil, (*Server).policyRoutes},
	{"audit", nil, (*Server).auditRoutes},
	{"audit-purge", nil, (*Server).purgeRoutes},
	{"metrics", nil, (*Server).metricsRoutes},
}

// allRoutes is every endpoint the server serves, in the order of the
// document: the groups of routeGroups whose parts it has.
func (s *Server) allRoutes() []route {
	var rs []route
groups:
	for _, g := range routeGroups {
		for _, p := range g.requires {
			if !s.has(p) {
				continue groups
			}
		}
		rs = append(rs, g.routes(s)...)
	}
	return rs
}
