package store

import (
	"fmt"
	"slices"

	"github.com/containerd/errdefs"
)

// Parts is the order in which the parts of the state are migrated, the one
// place that says it. A package that keeps a part registers its Schema
// (Register) and declares the parts whose tables it refers to (Requires),
// as a containerd plugin declares what it requires; the order is this
// list, never the order in which packages happen to be initialised. A new
// part adds its name here, after every part it requires; a step of an
// existing part (a new Migration) goes in its own Schema and needs no
// change here.
var Parts = []string{
	"people",
	"audit-watermark",
	"datasets",
	"grants",     // requires datasets
	"grant-ends", // requires grants
	"jobs",
	"derived", // requires jobs
	"usage",   // requires jobs (its ledger follows the jobs table)
	"exports",
	"incidents",
	"services",   // requires datasets, grants
	"objections", // requires datasets
	"sweeper",
}

// ordered returns the registered schemas in the order of parts. A
// registered part that parts does not name, a part required but not
// registered, and a part listed before one it requires are refused
// (errdefs.ErrFailedPrecondition, naming them): the state is not opened.
func ordered(registered []Schema, parts []string) ([]Schema, error) {
	byName := make(map[string]Schema, len(registered))
	for _, s := range registered {
		if !slices.Contains(parts, s.Part) {
			return nil, fmt.Errorf("schema part %q is registered but not in the list of parts (store.Parts): %w", s.Part, errdefs.ErrFailedPrecondition)
		}
		byName[s.Part] = s
	}
	var out []Schema
	for i, name := range parts {
		s, ok := byName[name]
		if !ok {
			continue // a part this program does not link
		}
		for _, req := range s.Requires {
			if _, ok := byName[req]; !ok {
				return nil, fmt.Errorf("schema part %q requires part %q, which is not registered: %w", name, req, errdefs.ErrFailedPrecondition)
			}
			if !slices.Contains(parts[:i], req) {
				return nil, fmt.Errorf("schema part %q requires part %q, which store.Parts lists after it: %w", name, req, errdefs.ErrFailedPrecondition)
			}
		}
		out = append(out, s)
	}
	return out, nil
}
