// The published JSON Schema of the pivot format (schemas/pivot.schema.json), derived from the zod
// schema so the two cannot drift (a test compares them). Cross-field rules (references between
// items, "birth order required without INS"...) are checked by parsePivot() only; the JSON
// Schema describes the structure, types, formats and enumerations.
import { z } from 'zod';
import { PivotSchema } from './schema.js';

export const PIVOT_SCHEMA_ID = 'urn:tddui:schema:pivot:1';

export function pivotJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(PivotSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  return { $schema: schema.$schema, $id: PIVOT_SCHEMA_ID, ...schema };
}

export function pivotJsonSchemaText(): string {
  return JSON.stringify(pivotJsonSchema(), null, 2) + '\n';
}
