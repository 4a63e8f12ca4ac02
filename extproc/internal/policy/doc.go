// Package policy checks request bodies before they reach a model: media
// type, size, JSON well-formedness, the JSON Schema of the route (compiled
// once from the OpenAPI document in api/openapi.yaml) and batch limits.
// It knows nothing about Envoy; its errors are typed so that the one error
// mapper in the server can turn them into problem details.
//
// # What one body may cost
//
// extproc answers ext_authz for every tenant, so a body one client sends
// must not stall the others (issue 13). The goal is that no body within
// the default body limit of 1 MiB allocates more than 10 MiB, valid or
// hostile; the tests assert it (TestValidator_Validate_boundsWork over the
// costliest shapes found, and FuzzValidate_cost, which builds 1 MiB bodies
// from a repeated unit), and the benchmarks report the CPU time.
//
// [Validator.Decode] parses a body in one pass over its bytes, after a
// pre-scan that sizes big arrays and objects so that each is allocated
// once; short scalars share their boxes. It refuses, each with a violation
// where it happens:
//   - nesting deeper than [MaxDepth] (32: tensor data of rank 29);
//   - member names longer than [MaxNameBytes], and duplicate or
//     case-variant names (one interpretation of a body);
//   - number literals longer than [MaxNumberBytes] or with an exponent
//     past [MaxExponent]: the schema validator compares numbers as exact
//     rationals, and 1e1000000 took it 100 ms;
//   - a document that would take more than [MaxDocumentBytes] (9 MiB) of
//     heap, refused where the bound is passed and before the memory is
//     spent. Go's representation costs up to 45 bytes of heap per body
//     byte (a map of one member takes 336); the densest valid 1 MiB body,
//     a tensor of one-digit numbers, takes 8 MiB.
//
// [Validator.Check] first evaluates the schema itself (see node), for the
// keywords the request schemas use: a body that passes never reaches the
// schema validator, which costs a few hundred bytes for every value it
// visits (280 MB for a valid 1 MiB tensor). A body that fails goes to
// the validator, for its wording, as a stand-in: the bulk arrays (rows,
// tensor data and shapes, inputs, outputs) keep only the items that may
// fail, at most 200 each (those whose pointers sort first, so that the
// answer lists what the whole document's would), wide failing rows 200
// members, and closed objects none of the members they do not allow (one
// violation lists them). A stand-in of more than 1024 values is checked
// in parts of that size, stopping once more than [MaxViolations] are
// found. An answer lists at most [MaxViolations], each cut to
// [MaxPointerBytes] and [MaxDetailBytes], within [MaxViolationBytes];
// a final note counts the rest ("at least" when checking stopped early).
package policy
