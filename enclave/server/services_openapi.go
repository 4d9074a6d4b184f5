package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/enclave-dev/enclave/enclave/services"
)

// serviceDocument generates the OpenAPI 3 document of one service from
// its definition (issue 19 item 5): the verify operation with the
// service's match columns as the claimable properties, its rate limit and
// its answers. It is validated with kin-openapi before it is served.
func serviceDocument(sv *services.Service) ([]byte, error) {
	claims := map[string]any{}
	for _, m := range sv.Match {
		claims[m] = map[string]any{"type": "string", "maxLength": services.MaxKeyBytes}
	}
	columns := map[string]any{}
	for _, m := range sv.Match {
		columns[m] = map[string]any{"type": "boolean"}
	}
	keyDesc := fmt.Sprintf("the raw value of column %q of the subject; the enclave keeps only its keyed hash", sv.Key)
	item := map[string]any{
		"type": "object", "required": []string{"key"}, "additionalProperties": false,
		"properties": map[string]any{
			"key":    map[string]any{"type": "string", "minLength": 1, "maxLength": services.MaxKeyBytes, "description": keyDesc},
			"claims": map[string]any{"type": "object", "additionalProperties": false, "properties": claims},
		},
	}
	answer := map[string]any{
		"type": "object", "required": []string{"match"}, "additionalProperties": false,
		"properties": map[string]any{
			"match":   map[string]any{"type": "boolean"},
			"columns": map[string]any{"type": "object", "additionalProperties": false, "properties": columns},
		},
	}
	errBody := map[string]any{"description": "an error: class, message, request id", "content": map[string]any{
		"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Enclave service " + sv.Name,
			"version":     fmt.Sprintf("%s@%d", sv.Dataset, sv.Version),
			"description": fmt.Sprintf("Compare-verify over dataset %s (scenario: %s). At most %d calls per minute per subscription; at most %d keys per batch.", sv.Dataset, sv.Scenario, sv.RatePerMin, services.MaxBatch),
		},
		"components": map[string]any{
			"securitySchemes": map[string]any{"credential": map[string]any{"type": "http", "scheme": "bearer",
				"description": "a credential issued to an application system under an approved subscription (or, on the TLS listener, its client certificate instead)"}},
			"schemas": map[string]any{
				"Item":        item,
				"Answer":      answer,
				"BatchAnswer": map[string]any{"type": "object", "required": []string{"results"}, "properties": map[string]any{"results": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/Answer"}}}},
			},
		},
		"security": []any{map[string]any{"credential": []string{}}},
		"paths": map[string]any{
			"/v1/services/" + sv.Name + "/verify": map[string]any{
				"post": map[string]any{
					"operationId": "verify",
					"summary":     "Verify one subject (key) or a batch (keys)",
					"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
						"oneOf": []any{
							map[string]any{"$ref": "#/components/schemas/Item"},
							map[string]any{"type": "object", "required": []string{"keys"}, "properties": map[string]any{
								"keys": map[string]any{"type": "array", "minItems": 1, "maxItems": services.MaxBatch, "items": map[string]any{"$ref": "#/components/schemas/Item"}}}},
						}}}}},
					"responses": map[string]any{
						"200": map[string]any{"description": "the answer", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
							"oneOf": []any{map[string]any{"$ref": "#/components/schemas/Answer"}, map[string]any{"$ref": "#/components/schemas/BatchAnswer"}}}}}},
						"400": errBody, "401": errBody, "403": errBody, "412": errBody,
						"429": map[string]any{"description": "rate limit or daily budget of non-matching calls reached; see Retry-After",
							"headers": map[string]any{"Retry-After": map[string]any{"schema": map[string]any{"type": "integer"}}},
							"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}},
					},
				},
			},
		},
	}
	if sv.Mode == services.Query {
		props := map[string]any{}
		for _, c := range sv.Columns {
			props[c] = map[string]any{"type": "string"}
		}
		info := doc["info"].(map[string]any)
		info["description"] = fmt.Sprintf("Query-reference over dataset %s (scenario: %s): the columns %v of one subject, personal information desensitized. At most %d calls per minute per subscription.",
			sv.Dataset, sv.Scenario, sv.Columns, sv.RatePerMin)
		doc["components"].(map[string]any)["schemas"] = map[string]any{
			"Query": map[string]any{"type": "object", "required": []string{"key"}, "additionalProperties": false, "properties": map[string]any{
				"key": map[string]any{"type": "string", "minLength": 1, "maxLength": services.MaxKeyBytes, "description": keyDesc}}},
			"Answer": map[string]any{"type": "object", "required": []string{"found", "rows"}, "properties": map[string]any{
				"found": map[string]any{"type": "boolean"},
				"rows":  map[string]any{"type": "array", "maxItems": services.MaxRowsPerSubject, "items": map[string]any{"type": "object", "additionalProperties": false, "properties": props}}}},
		}
		ops := doc["paths"].(map[string]any)["/v1/services/"+sv.Name+"/verify"].(map[string]any)["post"].(map[string]any)
		ops["operationId"], ops["summary"] = "query", "The approved columns of one subject"
		ops["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Query"}}}}
		ops["responses"].(map[string]any)["200"] = map[string]any{"description": "the answer", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Answer"}}}}
		doc["paths"] = map[string]any{"/v1/services/" + sv.Name + "/query": map[string]any{"post": ops}}
	}
	if sv.Export != "" {
		doc["info"].(map[string]any)["version"] = "export " + sv.Export
	}
	if sv.Mode == services.Query && sv.Export != "" {
		doc["info"].(map[string]any)["description"] = fmt.Sprintf("Query-reference over table %s of released export %s (scenario: %s): the columns %v of one subject. At most %d calls per minute per subscription.",
			sv.File, sv.Export, sv.Scenario, sv.Columns, sv.RatePerMin)
	}
	if sv.Mode == services.Bulk {
		doc["info"].(map[string]any)["description"] = fmt.Sprintf("Bulk copy of released export %s and the later releases of the same product (scenario: %s): the signed release bundle, verifiable offline with `enclave release verify`. At most %d downloads per minute per subscription.",
			sv.Export, sv.Scenario, sv.RatePerMin)
		doc["components"].(map[string]any)["schemas"] = map[string]any{}
		doc["paths"] = map[string]any{"/v1/services/" + sv.Name + "/bulk/latest": map[string]any{"get": map[string]any{
			"operationId": "bulkLatest",
			"summary":     "The signed release bundle of the product's newest release (a tar archive; its SHA-256 in X-Bundle-Sha256)",
			"responses": map[string]any{
				"200": map[string]any{"description": "the bundle", "content": map[string]any{"application/x-tar": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}},
				"401": errBody, "403": errBody, "412": errBody,
				"429": map[string]any{"description": "rate limit reached; see Retry-After",
					"headers": map[string]any{"Retry-After": map[string]any{"schema": map[string]any{"type": "integer"}}},
					"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}},
			},
		}}}
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	loaded, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("the generated document of service %q does not load: %w", sv.Name, err)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the generated document of service %q is not valid: %w", sv.Name, err)
	}
	return data, nil
}

func (s *Server) serviceOpenAPI(ctx context.Context, c *call) (any, error) {
	sv, err := services.Get(ctx, s.DB.SQL(), c.path("name"))
	if err != nil {
		return nil, err
	}
	data, err := serviceDocument(sv)
	if err != nil {
		return nil, err
	}
	c.raw = true
	c.w.Header().Set("Content-Type", "application/json")
	c.w.Write(data)
	return nil, nil
}
