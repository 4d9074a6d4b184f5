package server

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

var pathParamRE = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI returns the API document (OpenAPI 3.0), generated from the same
// route table that the router serves and from the enclave/api types its
// routes take and answer, so the three cannot drift apart. Each body type
// is a schema under components/schemas named after its Go type.
func (s *Server) OpenAPI() map[string]any {
	schemas := &docSchemas{byName: map[string]any{}, types: map[string]reflect.Type{}}
	paths := map[string]any{}
	for _, rt := range s.routes {
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
		}
		if rt.Action != "" {
			op["x-enclave-action"] = rt.Action
		}
		if rt.Public {
			op["security"] = []any{}
		}
		var params []any
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.Request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": schemaRef(reflect.TypeOf(rt.Request), schemas)}}}
		}
		code := "200"
		if rt.Created {
			code = "201"
		}
		resp := map[string]any{"description": "success"}
		if rt.Response != nil {
			resp["content"] = map[string]any{"application/json": map[string]any{"schema": schemaRef(reflect.TypeOf(rt.Response), schemas)}}
		}
		op["responses"] = map[string]any{
			code:      resp,
			"default": map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": schemaRef(reflect.TypeOf(api.ErrorBody{}), schemas)}}},
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Enclave API", "version": s.Version},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         schemas.byName,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
}

// operationID is the route's operation id: its own Op, else its action,
// else its method and path. checkRoutes refuses a table in which two
// routes share one.
func operationID(rt route) string {
	switch {
	case rt.Op != "":
		return rt.Op
	case rt.Action != "":
		return rt.Action
	}
	return strings.ToLower(rt.Method) + strings.ReplaceAll(rt.Path, "/", "_")
}

// checkRoutes refuses a route table that serves one method and path
// twice, or that names two operations alike (generated clients name their
// methods by operation id).
func checkRoutes(rs []route) error {
	ops, paths := map[string]string{}, map[string]bool{}
	for _, rt := range rs {
		at := rt.Method + " " + rt.Path
		if paths[at] {
			return fmt.Errorf("route %s is served twice: %w", at, errdefs.ErrInvalidArgument)
		}
		paths[at] = true
		id := operationID(rt)
		if other, ok := ops[id]; ok {
			return fmt.Errorf("routes %s and %s share the operation id %q: %w", other, at, id, errdefs.ErrInvalidArgument)
		}
		ops[id] = at
	}
	return nil
}

var timeType = reflect.TypeOf(time.Time{})

// docSchemas are the named schemas of a document and the Go type each
// describes.
type docSchemas struct {
	byName map[string]any
	types  map[string]reflect.Type
}

// schemaRef describes a Go type as a JSON schema, following encoding/json's
// rules for field names and embedding. A named struct is described once,
// in schemas under its type's name, and referred to.
func schemaRef(t reflect.Type, schemas *docSchemas) map[string]any {
	if t.Kind() == reflect.Pointer {
		// A nil pointer is null (a $ref takes no siblings in 3.0).
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		sc := schemaRef(t, schemas)
		if _, ok := sc["$ref"]; ok {
			return map[string]any{"nullable": true, "allOf": []any{sc}}
		}
		sc["nullable"] = true
		return sc
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t == reflect.TypeOf(time.Duration(0)) {
			return map[string]any{"type": "integer", "description": "nanoseconds"}
		}
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "nullable": true, "items": schemaRef(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "nullable": true, "additionalProperties": schemaRef(t.Elem(), schemas)}
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return structSchema(t, schemas)
		}
		if have, ok := schemas.types[name]; ok && have != t {
			// Another package's type of that name.
			name = strings.ReplaceAll(t.PkgPath(), "/", ".") + "." + name
		}
		if _, ok := schemas.types[name]; !ok {
			schemas.types[name] = t // before its fields: a type may refer to itself
			schemas.byName[name] = structSchema(t, schemas)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func structSchema(t reflect.Type, schemas *docSchemas) map[string]any {
	props := map[string]any{}
	addFields(t, props, schemas)
	return map[string]any{"type": "object", "properties": props}
}

func addFields(t reflect.Type, props map[string]any, schemas *docSchemas) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name := strings.Split(tag, ",")[0]
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, props, schemas)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaRef(f.Type, schemas)
	}
}
