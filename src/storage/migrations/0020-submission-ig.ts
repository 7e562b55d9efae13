// Which IG version validated a submission (`ans.fhir.fr.tddui#2.3.0`), and how many of its
// warnings are "could not check" notices or IG defects rather than findings about the data:
// `warning_count` counts data warnings from this migration on (issue 22); rows logged before
// keep their count of every warning, and `ig` / `notice_count` stay null there.

export const version = '0020-submission-ig';

export const statements: string[] = [
  `ALTER TABLE submission ADD COLUMN ig text`,
  `ALTER TABLE submission ADD COLUMN notice_count integer`,
];
