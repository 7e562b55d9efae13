// Regenerates schemas/pivot.schema.json: `npx tsc -p tsconfig.json && node dist/src/producer/pivot/write-schema.js`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../testing/paths.js';
import { pivotJsonSchemaText } from './json-schema.js';

const file = join(REPO_ROOT, 'schemas', 'pivot.schema.json');
writeFileSync(file, pivotJsonSchemaText());
process.stdout.write(`wrote ${file}\n`);
