package apijson

import _ "embed"

// OpenAPI is the OpenAPI 3 document of what the JSON API implements,
// served at /api/openapi.json. Tests check it loads, validates, and covers
// every API route.
//
//go:embed openapi.json
var OpenAPI []byte
