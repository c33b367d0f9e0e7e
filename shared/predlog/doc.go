// Package predlog is the prediction log: the record the prediction endpoint
// writes for every instance it scores, the rule that keeps personal data out
// of it, the sampling decision, the sinks that make records durable, and the
// reader the drift and report use cases stream them back with.
//
// The endpoint's path for one answered request is:
//
//	if sampler.Sampled(requestID) {
//		recs := ... // one Record per instance, Features as received
//		for i := range recs {
//			redactor.Apply(&recs[i]) // the model's contract's PII rule
//		}
//		err := sink.Write(ctx, recs) // before the response goes out
//	}
//
// Two sinks: Lines writes each record as one JSON line to stdout, where Lambda
// hands it to CloudWatch Logs before the function can be frozen (a
// subscription filter and Firehose carry it to S3; see FirehosePrefix), and
// Batcher buffers records in a long-lived process (`mlops up`) and writes
// gzip JSON Lines objects to the store itself. Both land the records under
// Prefix(model, day) in the monitoring bucket, where Read finds them.
//
// docs/prediction-log.md documents the record's schema, its versioning, the
// PII rule and the cost of each path.
package predlog
