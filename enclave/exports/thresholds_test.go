package exports

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	review "github.com/enclave-dev/enclave/egress-review"
	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa"
)

// TestParamsFromPolicyBuiltin: the built-in policies hold the checks' own
// defaults.
func TestParamsFromPolicyBuiltin(t *testing.T) {
	e, err := opa.New(context.Background())
	if err != nil {
		t.Fatalf("load policies: %v", err)
	}
	got := ParamsFromPolicy(e.EgressThresholds())
	if want := review.Default(); got != want {
		t.Errorf("got %+v, want review.Default() %+v", got, want)
	}
	if got.Effective() != got {
		t.Errorf("got Effective %+v, want the params unchanged %+v", got.Effective(), got)
	}
}

// TestParamsFromPolicyKeys: the policy object has a key for every
// parameter of the checks and no other, so that a parameter added to
// review.Params cannot be left at its default by the mapping.
func TestParamsFromPolicyKeys(t *testing.T) {
	var params []string
	typ := reflect.TypeOf(review.Params{})
	for i := range typ.NumField() {
		params = append(params, typ.Field(i).Tag.Get("json"))
	}
	keys := policy.EgressThresholdKeys()
	slices.Sort(params)
	slices.Sort(keys)
	if !slices.Equal(params, keys) {
		t.Errorf("got policy keys %v, want the review.Params names %v", keys, params)
	}
}

// TestParamsFromPolicyEveryField gives every threshold a value of its own
// and finds each under the same name in the parameters.
func TestParamsFromPolicyEveryField(t *testing.T) {
	var th policy.EgressThresholds
	v := reflect.ValueOf(&th).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(100 + i))
		case reflect.Float64:
			f.SetFloat(0.5 + float64(i)/1000)
		default:
			t.Fatalf("field %s: kind %s has no test value", v.Type().Field(i).Name, f.Kind())
		}
	}
	want, got := asMap(t, th), asMap(t, ParamsFromPolicy(th))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func asMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
