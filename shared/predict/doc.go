// Package predict is the platform's prediction API: scoring instances with a
// model's champion, and describing what the champion takes and gives. It holds
// the whole contract in one place: the routes, the request and response
// bodies with their strict decoder (DecodeRequest), the check of instances
// against the dataset contract the model was trained under (Checker), the
// server side (Routes, over a Service that shared/serving implements) and the
// typed Client the CLI uses. Its error body is the platform's
// (shared/apierror). It knows nothing of where it runs: the local HTTPS server
// and API Gateway (shared/local/api, shared/aws/httpapi) authenticate the
// caller and hand Routes the principal. In AWS the prediction routes are an
// API of their own, apart from the decisions API, so that a caller who may
// predict cannot decide; locally both are on one server, on one mux.
//
// # Routes
//
// Every route needs a verified caller; bodies are JSON with camelCase fields.
//
//	POST /v1/models/{model}:predict   Request → Response: the champion's predictions
//	GET  /v1/models/{model}/metadata  Metadata: the champion's version, features, outputs
//
// A ServeMux wildcard is a whole path segment, so the prediction route is
// POST /v1/models/{target}: the route splits ":predict" off the segment; a
// segment without it, or with another verb, is 404 not_found, with a message
// that says the route's shape.
//
// # Request
//
//	{"instances": [{"Seniority": 9, "Home": "rent", "Income": null, ...}, ...], "explain": true}
//
// "instances" (required) holds 1 to 1000 records (Limits.MaxInstances) as
// TF Serving, KServe v1 and MLflow take them; the body is at most 5 MiB
// (Limits.MaxBodyBytes). Beyond either: 413 too_large. "explain" (optional)
// asks for each prediction's contributions and reasons. No other field is
// allowed: a misspelt "explain" must not silently mean false.
//
// An instance's fields are the model's features, by the contract's column
// names. Each value is a JSON scalar: a number (within float32's range: the
// model reads float32), a string (at most 1 KiB), true, false or null. An
// array or an object is refused where it starts, however deep it nests;
// NaN and Infinity, which are not JSON, are refused with a message that says
// so; a name given twice in one instance is refused.
//
// # The contract's check
//
// Each value is checked by its column's rules, as the ingest gate checked the
// dataset the model was trained on (shared/validate), and becomes the value
// the trainer read for it in the dataset's canonical CSV:
//
//	integer    a JSON integer (35, or 35.0 and 3.5e1: integral), or a string of one ("35")
//	number     a JSON number, or a string holding a plain decimal number ("35.5"); finite, within float32
//	boolean    true or false, 1 or 0, or a string true/false, 1/0, yes/no in any case
//	category   a string; a value outside "allowed" is out of range; an allowed value the
//	           model never saw in training is fine (it is scored as the encoder scores an
//	           unseen category: missing)
//	string     a string
//	timestamp  a string in the column's layout (RFC 3339 by default)
//
// Strings in number, integer and boolean columns let a CSV file be sent as it
// is: RequestFromCSV sends every cell as a string. min and max bound numbers,
// integers and timestamps (as Unix seconds); "allowed" is compared as text;
// "pattern" must match the whole string; a string a spreadsheet would run as
// a formula (=, +, -, @ first) is refused, as the ingest gate refuses it.
//
// A missing value is null, "", one of the contract's null tokens, or an
// absent field, and is missing exactly as an empty cell was in training; in a
// required column it is refused. A field that is no column of the contract
// is refused (CheckOptions.UnknownFields "reject", the default) or ignored
// ("ignore"); a column of the contract that the model does not use (the
// target, an id) is always ignored. A value out of range (min, max, allowed)
// is refused by default; under CheckOptions.OutOfRange "flag" it is scored
// and the prediction's "flags" name the rule. Every problem of every instance
// is told at once (the first 100 in full, then a count), each naming
// instances[i].field, the rule and what was expected, in the error's message
// and in its "details" (field, rule, message). A value of a column marked pii
// is never repeated in a message.
//
// # Response
//
//	{
//	  "predictions": [
//	    {"p_bad": 0.1734, "label": "good"},
//	    {"p_bad": 0.6120, "label": "bad", "flags": ["Age: 130 is above the maximum 120"],
//	     "contributions": {"Seniority": -0.41, "Home": 0.02, ...}, "bias": -1.21,
//	     "reasons": [{"feature": "Income", "value": 80, "contribution": 0.55}, ...]}
//	  ],
//	  "model": "credit",
//	  "modelVersion": 3,
//	  "requestId": "Cz7q1jXyoAMEVbQ="
//	}
//
// One prediction per instance, in order, all made by modelVersion. A
// prediction is the shared scorer's row (bundle.Scorer): p_<class> then label
// for a classifier (binary: the positive class's probability only),
// prediction for a regression. With "explain": "contributions", each
// feature's contribution to the margin in the model's feature order (for a
// multiclass model, class → feature → contribution), "bias" (a number, or
// class → number), and "reasons", the features that pushed the prediction
// most with their values as sent.
//
// # Metadata
//
//	{
//	  "modelSpec": {"name": "credit", "version": 3},
//	  "metadata": {
//	    "bundleSha256": "...", "dataset": "credit", "contractHash": "...", "datasetVersion": "...",
//	    "modelCard": "models/credit/v3/index.html",
//	    "features": [{"name": "Age", "type": "integer", "required": true, "min": 18, "max": 120, ...}, ...],
//	    "outputs": [{"name": "p_bad", "type": "number", "description": "..."}, {"name": "label", ...}],
//	    "target": {"column": "Status", "kind": "binary", "classes": ["good", "bad"], "positiveClass": "bad", "threshold": 0.5},
//	    "unknownFields": "reject", "outOfRange": "reject"
//	  }
//	}
//
// TF Serving's shape (model_spec, metadata) in the platform's camelCase;
// "modelCard" is the card's path relative to the governance site's root.
//
// # Errors
//
// The platform's error body (shared/apierror): {"error", "code", "requestId"},
// with "details" for the contract's check. Codes and their statuses:
//
//	bad_request   400  a body that is not a request, a value the contract refuses, a malformed model name
//	too_large     413  a body over the limit, more instances than the limit
//	unauthorized  401  no verified caller
//	not_found     404  no such model; a path that is no route (POST /v1/models/credit without :predict)
//	unavailable   503  the model has no champion (its champion was retired): the message says so
//	internal      500  the platform failed; the detail is in its log under the request id
package predict
