// The ordered list of migrations. Append only: an applied migration is never edited.
import * as m0001 from './0001-initial.js';

export interface Migration {
  version: string;
  statements: string[];
}

export const MIGRATIONS: Migration[] = [m0001];
