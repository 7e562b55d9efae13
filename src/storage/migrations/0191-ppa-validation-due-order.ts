// "Revues à prévoir" one page at a time (issue 19, D-300): the due reviews most late first —
// by validation day, then the CarePlan's id, a total order — read as a range of an index in that
// order with LIMIT/OFFSET, for all ESSMS or for one (`finess` first). 0180's
// ppa_validation_day_idx (validated_day, finess) stays: Pilotage's grouped count reads it.

export const version = '0191-ppa-validation-due-order';

export const statements: string[] = [
  `CREATE INDEX ppa_validation_due_idx ON ppa_validation (validated_day, careplan)`,
  `CREATE INDEX ppa_validation_finess_due_idx ON ppa_validation (finess, validated_day, careplan)`,
];
