// Package apitest helps tests of the wire contract: Fill makes values
// with every field set, so that a mapping that drops, swaps or renames a
// field, or a schema that refuses one, shows.
package apitest

import (
	"fmt"
	"reflect"
	"time"
)

// Fill sets every exported field reachable from the value v points to:
// strings name their field and count up, numbers count up, booleans are
// true, times differ by their nanoseconds, and slices and maps hold one
// element. It panics if v is not a non-nil pointer.
func Fill(v any) {
	n := 0
	fill(reflect.ValueOf(v).Elem(), &n, "v")
}

// Filled returns a T with every field set (Fill).
func Filled[T any]() T {
	var v T
	Fill(&v)
	return v
}

func fill(v reflect.Value, n *int, name string) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("%s-%d", name, *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n, name)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), n, name)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n, name+"-key")
		fill(e, n, name)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, *n, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				fill(v.Field(i), n, f.Name)
			}
		}
	}
}
