// cdk-nag's AwsSolutions pack over synthesized templates (its Go module
// cannot be fetched, so the checks run here, in Node, on what the Go app
// wrote). The suppressions travel in each template as cdk-nag's resource
// metadata, written from Go:
//   "Metadata": {"cdk_nag": {"rules_to_suppress": [{"id", "reason", "applies_to": [...]}]}}
// where an applies_to entry is a finding ("Resource::*") or {"regex": "/.../g"}.
//
//   node check.mjs TEMPLATE.json...
//
// Prints one JSON report per template on stdout: the unsuppressed errors and
// warnings, and how many findings were suppressed. Exits 1 when any template
// has an unsuppressed error, or a suppression without a reason.
import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import { AwsSolutionsChecks } from 'cdk-nag';

// A finding's rule name is "AwsSolutions-IAM5" or, for one of several
// findings of a rule on a resource, "AwsSolutions-IAM5[Resource::*]".
function split(ruleName) {
  const m = /^([^[]+)(?:\[(.*)\])?$/s.exec(ruleName);
  return { id: m[1], finding: m[2] };
}

function regexOf(s) {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(s);
  return m ? new RegExp(m[1], m[2].replace('g', '')) : new RegExp(s);
}

function suppressed(rules, id, finding) {
  return rules.find((r) => {
    if (r.id !== id) return false;
    const applies = r.applies_to ?? r.appliesTo;
    if (!applies || applies.length === 0) return true;
    if (finding === undefined) return false;
    return applies.some((a) => (typeof a === 'string' ? a === finding : regexOf(a.regex).test(finding)));
  });
}

let failed = false;
for (const file of process.argv.slice(2)) {
  const template = JSON.parse(readFileSync(file, 'utf8'));
  const app = new App();
  const stack = new Stack(app, 'Checked');
  new CfnInclude(stack, 'Template', { templateFile: file });
  const report = new AwsSolutionsChecks(undefined, { verbose: false }).validateScope(stack);

  const out = { template: file, errors: [], warnings: [], suppressed: 0, badSuppressions: [] };
  for (const [logicalId, res] of Object.entries(template.Resources ?? {})) {
    for (const r of res.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
      if (!r.reason || r.reason.length < 10) out.badSuppressions.push(`${logicalId}: ${r.id} has no reason`);
    }
  }
  for (const v of report.violations) {
    const { id, finding } = split(v.ruleName);
    for (const vr of v.violatingResources) {
      const logicalId = vr.resourceLogicalId ?? vr.constructPath.split("/").pop();
      const rules = template.Resources?.[logicalId]?.Metadata?.cdk_nag?.rules_to_suppress ?? [];
      if (suppressed(rules, id, finding)) {
        out.suppressed++;
        continue;
      }
      const entry = { rule: v.ruleName, resource: logicalId, description: v.description.split('\n')[0] };
      (String(v.severity ?? '').toLowerCase() === 'error' ? out.errors : out.warnings).push(entry);
    }
  }
  if (out.errors.length > 0 || out.badSuppressions.length > 0) failed = true;
  console.log(JSON.stringify(out, null, 1));
}
process.exit(failed ? 1 : 0);
