package authz

import (
	"context"
	"fmt"
	"slices"

	"github.com/enclave-dev/enclave/enclave/people"
)

// RoleTable is a fixed role table: an action is allowed when the subject
// holds one of the roles listed for it. Unknown actions are denied.
type RoleTable map[string][]people.Role

var _ Authorizer = RoleTable(nil)

// Authorize implements Authorizer.
func (t RoleTable) Authorize(_ context.Context, s people.Subject, action string, _ Resource) (Decision, error) {
	roles, ok := t[action]
	if !ok {
		return Decision{Reasons: []Reason{{Rule: "action.unknown", Message: fmt.Sprintf("action %q is not known", action)}}}, nil
	}
	if len(roles) == 0 {
		return Decision{Allow: true}, nil
	}
	for _, r := range s.Person.Roles {
		if slices.Contains(roles, r) {
			return Decision{Allow: true}, nil
		}
	}
	return Decision{Reasons: []Reason{{Rule: "role.missing", Message: fmt.Sprintf("action %q needs one of the roles %v", action, roles)}}}, nil
}
