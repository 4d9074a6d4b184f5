package opa

import (
	"reflect"
	"testing"
	"time"

	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa/vm"
)

// mutate changes field i of the struct v points to, and reports false for a
// field type it does not know.
func mutate(v reflect.Value, i int) bool {
	f := v.Elem().Field(i)
	switch x := f.Interface().(type) {
	case string:
		f.SetString(x + "x")
	case bool:
		f.SetBool(!x)
	case int64:
		f.SetInt(x + 1)
	case time.Time:
		f.Set(reflect.ValueOf(x.Add(time.Second)))
	case []string:
		f.Set(reflect.ValueOf(append(append([]string(nil), x...), "x")))
	case *time.Time:
		t := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		if x != nil {
			t = x.Add(time.Second)
		}
		f.Set(reflect.ValueOf(&t))
	case *int64:
		n := int64(99)
		if x != nil {
			n = *x + 1
		}
		f.Set(reflect.ValueOf(&n))
	case []policy.GrantDataset:
		c := append([]policy.GrantDataset(nil), x...)
		c[0].Columns = append(append([]string(nil), c[0].Columns...), "x")
		f.Set(reflect.ValueOf(c))
	default:
		return false
	}
	return true
}

// TestTermCacheComparesEveryField changes each field of a grant, a
// dataset and a subject in turn and requires the cache's equality to see it, so that a
// field added to the types cannot be served from a stale term; it also
// requires nil and empty slices (null and []) to differ.
func TestTermCacheComparesEveryField(t *testing.T) {
	g := policy.Grant{ID: "g", Org: "o", Datasets: []policy.GrantDataset{{Name: "d", Columns: []string{"a"}}},
		Purpose: "p", Scenario: "s", From: t0, Until: t0.AddDate(0, 1, 0), Approvers: []string{"p-a"},
		BatchesLeft: ptr(int64(2)), Status: "approved"}
	for i := range reflect.TypeOf(g).NumField() {
		c := cloneGrant(&g)
		if !mutate(reflect.ValueOf(&c), i) {
			t.Fatalf("grant field %s: type not handled by the test or by grantEqual", reflect.TypeOf(g).Field(i).Name)
		}
		if grantEqual(&g, &c) {
			t.Errorf("grant field %s changed, grantEqual still true", reflect.TypeOf(g).Field(i).Name)
		}
	}
	d := policy.Dataset{Name: "d", Version: 1, Level: "general-1", Market: "ordinary", State: "active", Columns: []string{"a"}}
	for i := range reflect.TypeOf(d).NumField() {
		c := cloneDataset(&d)
		if !mutate(reflect.ValueOf(&c), i) {
			t.Fatalf("dataset field %s: type not handled", reflect.TypeOf(d).Field(i).Name)
		}
		if datasetEqual(&d, &c) {
			t.Errorf("dataset field %s changed, datasetEqual still true", reflect.TypeOf(d).Field(i).Name)
		}
	}
	subj := person("p-1", "acme", "operator")
	for i := range reflect.TypeOf(subj).NumField() {
		c := cloneSubject(&subj)
		if !mutate(reflect.ValueOf(&c), i) {
			t.Fatalf("subject field %s: type not handled", reflect.TypeOf(subj).Field(i).Name)
		}
		if subjectEqual(&subj, &c) {
			t.Errorf("subject field %s changed, subjectEqual still true", reflect.TypeOf(subj).Field(i).Name)
		}
	}
	noLicence := cloneSubject(&subj)
	noLicence.LicenceFrom = nil
	if subjectEqual(&subj, &noLicence) || !subjectEqual(&subj, ptr(cloneSubject(&subj))) {
		t.Error("subjectEqual: a nil time compares equal, or a clone differs")
	}
	empty := cloneGrant(&g)
	empty.Approvers = []string{}
	null := cloneGrant(&g)
	null.Approvers = nil
	if grantEqual(&empty, &null) {
		t.Error("empty and nil approvers compare equal")
	}
	if !grantEqual(&g, ptr(cloneGrant(&g))) {
		t.Error("a grant differs from its clone")
	}
}

// TestTermCacheServesCurrentValues converts an input, changes a grant, a
// dataset and the subject, and requires the new values in the input, not
// the cached ones.
func TestTermCacheServesCurrentValues(t *testing.T) {
	in := jobInput()
	first := inputValue(&in).String()
	in.Grants[0].Status = "revoked"
	in.Subject.OrgStatus = "suspended"
	in.Resource.Datasets[0].Level = "important"
	second := inputValue(&in).String()
	if first == second {
		t.Fatal("input unchanged after changing a grant and a dataset")
	}
	checkInputValue(t, in) // the JSON encoding's shape
}

// TestSubjectTermsPerFields: the subject's term holds the fields the
// residual reads, whichever residual converted that person before.
func TestSubjectTermsPerFields(t *testing.T) {
	s := person("p-9", "acme", "operator")
	few := &fields{sub: map[string]*fields{"id": allFields}}
	many := &fields{sub: map[string]*fields{"id": allFields, "org": allFields}}
	a, b := cachedSubject(&s, few), cachedSubject(&s, many)
	if a.(*vm.Object).Len() != 1 || b.(*vm.Object).Len() != 2 {
		t.Fatalf("got %v and %v, want the id, then the id and the org", a, b)
	}
	if cachedSubject(&s, few) != a {
		t.Error("the same subject and fields made a new term")
	}
}
