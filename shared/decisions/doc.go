// Package decisions is the platform's decisions API: reading the model
// registry and recording people's decisions about model versions. It holds the
// whole contract in one place: the routes, the request and response bodies,
// the error body with its stable codes, the server side (Routes, over a Service
// the gate implements) and the typed Client the CLI uses. It knows nothing of
// where it runs: the local HTTPS server and API Gateway (shared/local/api,
// shared/aws/httpapi) authenticate the caller and hand Routes the principal.
//
// # Routes
//
// Every route needs a verified caller (the local API's bearer token; in AWS,
// API Gateway's IAM authorizer); bodies are JSON with camelCase fields.
//
//	GET  /v1/models                                     []ModelSummary: models with their champion
//	GET  /v1/models/{model}                             Model: its versions and champion
//	GET  /v1/models/{model}/versions/{version}          registry.Version: one version
//	GET  /v1/models/{model}/history                     []registry.Entry: the audit trail, in order
//	GET  /v1/models/{model}/verify                      registry.VerifyReport: the trail's verification (ok,
//	                                                    problems; damage, which no crash explains; whether the
//	                                                    chain is anchored by signed checkpoints, and to what)
//	POST /v1/models/{model}/versions/{version}/approve  Decision{reason, bundleSha256} → Result
//	POST /v1/models/{model}/versions/{version}/reject   Decision{reason} → Result
//	POST /v1/models/{model}/versions/{version}/promote  Decision{reason} → Result
//	POST /v1/models/{model}/versions/{version}/retire   Decision{reason, force} → Result
//	POST /v1/models/{model}/rollback                    Decision{reason, from} → Result
//
// A decision is idempotent: asking again for a decision already made answers
// 200 with created false and the audit record of the first. A decision body
// with a field the route does not know is refused, so that a misspelt flag
// is never silently ignored.
//
// # Errors
//
// Every refusal and failure answers with its HTTP status and the platform's
// error body (shared/apierror, shared with the prediction API):
//
//	{
//	  "error": "model credit: version 1 is pending_approval: cannot promote; allowed: approve, reject, retire",
//	  "code": "illegal_transition",
//	  "requestId": "Cz7q1jXyoAMEVbQ="
//	}
//
// "error" is the message for a person (it was the whole body before codes
// were added, so older clients still read it); "code" is what programs compare
// (see Code: the codes are stable, messages are not); "requestId" names the
// request in the platform's logs: API Gateway's request id in AWS, else one
// the route makes. An internal failure answers only "internal error" and the
// request id: the detail is logged under that id, never sent. The answer also
// carries the id in the X-Request-Id header.
//
// Codes and their statuses:
//
//	bad_request           400  a malformed model name, version number or body; a missing, overlong or non-text reason
//	too_large             413  a body over 16 KB (a reason is at most 4 KB)
//	unauthorized          401  no verified caller
//	forbidden             403  the policy does not let the caller make this decision, or the model has no policy
//	                           (the refusal is audited, once per caller, decision and target an hour)
//	not_found             404  no such model, version or audit trail
//	illegal_transition    409  the state machine does not allow the decision from the version's state
//	bundle_mismatch       409  an approval named another bundle than the version's (the refusal is audited)
//	not_passed            409  an approval of a version with no passing check under the policy in force, without an override (audited)
//	stale                 409  the decision was made against a state that has moved on (a newer champion)
//	no_champion           409  the model has no champion (a rollback from none)
//	no_previous_champion  409  a rollback found no champion to go back to
//	damaged_trail         409  a registry object or the audit trail is damaged: verify says where
//	conflict              409  another conflict (a client sees it only from a server newer than itself)
//	internal              500  the platform failed; the detail is in its log under the request id
//
// The generic codes (bad_request, too_large, unauthorized, forbidden,
// not_found, conflict, internal) are apierror's; the others are this API's.
// Something in front of the API (API Gateway refusing a signature, a proxy)
// answers without a code; the Client then gives the code of the status
// (unavailable for a 503).
package decisions
