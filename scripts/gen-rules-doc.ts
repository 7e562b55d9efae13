// Writes docs/rules.md from the rule catalogues.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderRulesDoc } from '../src/tddui/rules-doc.js';
import { REPO_ROOT } from '../src/testing/paths.js';

writeFileSync(join(REPO_ROOT, 'docs', 'rules.md'), renderRulesDoc());
console.log('docs/rules.md written');
