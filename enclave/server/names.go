package server

import (
	"fmt"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/people"
)

// personNames looks up people's names by id for the answers that name
// people by id, so that readers see a name beside the id (issue 21). A
// person it cannot read keeps an id alone; the names are added, no field
// is renamed or removed.
type personNames map[string]string

func (n personNames) name(c *call, id string) string {
	if id == "" {
		return ""
	}
	if v, ok := n[id]; ok {
		return v
	}
	v := ""
	if p, err := people.GetPerson(c.r.Context(), c.s.DB.SQL(), id); err == nil {
		v = p.Name
	}
	n[id] = v
	return v
}

// export adds the requester's and the reviewers' names to an export.
func (n personNames) export(c *call, x api.Export) api.Export {
	x.RequesterName = n.name(c, x.Requester)
	if len(x.Reviews) > 0 {
		rs := make([]api.ExportReview, len(x.Reviews))
		for i, r := range x.Reviews {
			r.PersonName = n.name(c, r.Person)
			rs[i] = r
		}
		x.Reviews = rs
	}
	return x
}

// named is one export with its people's names.
func named(c *call, x api.Export) api.Export { return personNames{}.export(c, x) }

// personByName is the id of the one person named name (audit list
// --actor NAME): no such person, or more than one, is an invalid argument
// that says which.
func personByName(c *call, name string) (string, error) {
	ps, err := people.ListPeople(c.r.Context(), c.s.DB.SQL(), "")
	if err != nil {
		return "", err
	}
	var ids []string
	for _, p := range ps {
		if p.Name == name {
			ids = append(ids, p.ID)
		}
	}
	switch len(ids) {
	case 1:
		return ids[0], nil
	case 0:
		return "", fmt.Errorf("query parameter \"actor\": no person is named %q (give a name or a person id p_...): %w", name, errdefs.ErrInvalidArgument)
	default:
		return "", fmt.Errorf("query parameter \"actor\": %d people are named %q; give the person id (p_...): %w", len(ids), name, errdefs.ErrInvalidArgument)
	}
}

// dataset adds the importer's and the reviewer's names to a dataset
// version (issue 21).
func (n personNames) dataset(c *call, d api.Dataset) api.Dataset {
	d.CreatedByName = n.name(c, d.CreatedBy)
	d.ReviewedByName = n.name(c, d.ReviewedBy)
	return d
}
