// Synthetic, realistic and deterministic TDDUI data: `generateUsagers({ count, seed })` returns
// pivot documents (one per usager) that build into Bundles our validator accepts with no error.
// Identities are consistent: the NIR encodes the sex, birth year/month and birth commune (or
// country) and the birth order, with its 97 − n mod 97 key; FINESS and RPPS carry their Luhn key.
import { luhnKey, nirKey } from '../../tddui/rules/identifiers.js';
import { AGGIR_PA_ITEMS, AGGIR_PH_ITEMS, SITUATION_ITEMS, type AggirVariable } from '../pivot/constants.js';
import { PIVOT_FORMAT, type PivotInput } from '../pivot/schema.js';
import { computeGir, type Modality } from './aggir.js';
import { BESOINS_SERAFIN, COMMUNES, NOMS, PAYS_ETRANGERS, PRENOMS_F, PRENOMS_M, RUES, TYPES_SSIAD, type Commune } from './data.js';
import { Rng } from './random.js';

export interface GenerateOptions {
  count: number;
  seed?: string | number;
  /** TDDUI version to produce (default 2.2.0); 2.3.0 adds its new fields (observations, household...). */
  igVersion?: '2.2.0' | '2.3.0';
  /** Last day of the exported history (YYYY-MM-DD); default: today (UTC). */
  endDate?: string;
}

type Kind = 'ssiad' | 'pp-pa' | 'pp-ime';
// Built loosely, then checked by the pivot schema in tests and by `build`.
type PivotDoc = Record<string, any>;

const DAY = 86_400_000;

interface Staff {
  idNatPs: string;
  civilite: 'M' | 'MME';
  nom: string;
  prenom: string;
  metier: 'ide' | 'as' | 'ergo' | 'kine' | 'psy' | 'educ';
}

interface Structure {
  kind: Kind;
  finess: string;
  raisonSociale: string;
  commune: Commune;
  staff: Staff[];
}

export function finessWithKey(body8: string): string {
  return body8 + String(luhnKey(body8));
}

export function nirWithKey(body13: string): string {
  return body13 + String(nirKey(body13)).padStart(2, '0');
}

function rpps(rng: Rng): string {
  const body = '10' + rng.digits(8);
  return body + String(luhnKey(body));
}

const METIER_QUALIF: Record<Staff['metier'], { system: string; code: string; display: string } | undefined> = {
  ide: { system: 'https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante', code: '60', display: 'Infirmier' },
  kine: { system: 'https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante', code: '70', display: 'Masseur-Kinésithérapeute' },
  ergo: { system: 'https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante', code: '68', display: 'Ergothérapeute' },
  as: undefined,
  psy: undefined,
  educ: undefined,
};

function structures(seed: string | number): Structure[] {
  const rng = new Rng(`structures:${seed}`);
  const defs: { kind: Kind; name: string; staff: Staff['metier'][] }[] = [
    { kind: 'ssiad', name: 'SSIAD', staff: ['ide', 'ide', 'as', 'as', 'as', 'as'] },
    { kind: 'ssiad', name: 'SSIAD', staff: ['ide', 'as', 'as', 'as'] },
    { kind: 'ssiad', name: 'SSIAD', staff: ['ide', 'ide', 'as', 'as', 'as'] },
    { kind: 'pp-pa', name: 'EHPAD', staff: ['ide', 'ide', 'as', 'ergo', 'kine', 'psy'] },
    { kind: 'pp-pa', name: 'EHPAD', staff: ['ide', 'as', 'kine', 'psy'] },
    { kind: 'pp-ime', name: 'IME', staff: ['educ', 'educ', 'psy', 'ide'] },
  ];
  const lieux = ['Les Chênes Verts', 'Les Tilleuls', 'Le Val Fleuri', 'Les Glycines', 'La Roseraie', 'Les Calanques', 'Le Clos du Parc'];
  return defs.map((d, i) => {
    const commune = rng.pick(COMMUNES.filter((c) => !c.insee.startsWith('2') || !/^2[AB]/.test(c.insee)));
    const dept = commune.insee.slice(0, 2);
    const finess = finessWithKey(dept + rng.digits(6));
    const staff = d.staff.map((metier) => {
      const civilite = rng.chance(0.75) ? 'MME' : 'M';
      return { idNatPs: '8' + rpps(rng), civilite, nom: cap(rng.pick(NOMS)), prenom: rng.pick(civilite === 'MME' ? PRENOMS_F : PRENOMS_M), metier } as Staff;
    });
    const nom = d.kind === 'ssiad' ? `${d.name} de ${commune.nom.replace(/ \d+e Arrondissement$/, '')}` : `${d.name} ${lieux[i % lieux.length]}`;
    return { kind: d.kind, finess, raisonSociale: nom, commune, staff };
  });
}

const cap = (s: string) => s.charAt(0) + s.slice(1).toLowerCase();
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const isoDay = (t: number) => new Date(t).toISOString().slice(0, 10);

/** UTC offset of metropolitan France on a day (last Sunday of March → last Sunday of October: +02:00). */
function parisOffset(t: number): string {
  const d = new Date(t);
  const y = d.getUTCFullYear();
  const lastSunday = (month: number) => {
    const last = new Date(Date.UTC(y, month + 1, 0));
    return Date.UTC(y, month, last.getUTCDate() - last.getUTCDay(), 1);
  };
  return t >= lastSunday(2) && t < lastSunday(9) ? '+02:00' : '+01:00';
}

/** Local date-time `YYYY-MM-DDThh:mm:00+0X:00` at minute `minutes` of the day `dayStart` (UTC midnight). */
function at(dayStart: number, minutes: number): string {
  const off = parisOffset(dayStart + 12 * 3600_000);
  return `${isoDay(dayStart)}T${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}:00${off}`;
}

/** A tiny but well-formed one-page PDF, base64 (attached documents). */
function pdfBase64(title: string): string {
  const text = title.replace(/[()\\]/g, ' ').normalize('NFD').replace(/[^\x20-\x7e]/g, '');
  const stream = `BT /F1 12 Tf 72 720 Td (${text}) Tj ET`;
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${pad(o, 10)} 00000 n \n`).join('')}`;
  pdf += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1').toString('base64');
}

interface Identity {
  usager: Record<string, any>;
  age: number;
}

function identity(rng: Rng, end: number, kind: Kind, idLocal: string, home: Commune): Identity {
  const female = rng.chance(kind === 'pp-ime' ? 0.4 : 0.62);
  const age = kind === 'pp-ime' ? rng.int(6, 19) : kind === 'pp-pa' ? rng.int(70, 99) : rng.chance(0.85) ? rng.int(62, 98) : rng.int(25, 59);
  const endYear = new Date(end).getUTCFullYear();
  const birth = Date.UTC(endYear - age, rng.int(0, 11), rng.int(1, 28));
  const birthDate = isoDay(birth);
  const abroad = rng.chance(0.06) ? rng.pick(PAYS_ETRANGERS) : undefined;
  const commune = abroad ? undefined : rng.pick(COMMUNES);
  const place = abroad ? abroad.insee : commune!.insee;
  const rang = rng.int(1, 999);
  const d = new Date(birth);
  const body = `${female ? 2 : 1}${pad(d.getUTCFullYear() % 100)}${pad(d.getUTCMonth() + 1)}${place}${pad(rang, 3)}`;
  const nir = nirWithKey(body);
  const prenoms = female ? PRENOMS_F : PRENOMS_M;
  const prenom = rng.pick(prenoms);
  const autres = Array.from({ length: rng.int(0, 2) }, () => rng.pick(prenoms)).filter((p) => p !== prenom);
  const nomNaissance = rng.pick(NOMS);
  const married = female && age > 25 && rng.chance(0.6);
  const withIns = kind === 'pp-ime' ? rng.chance(0.5) : rng.chance(0.75);
  const u: Record<string, any> = {
    idLocal,
    ...(withIns ? { ins: { matricule: nir, type: 'NIR', statutIdentite: rng.pick(['VALI', 'PROV', 'VALI'] as const) } } : {}),
    ...(!withIns && rng.chance(0.5) ? { nss: nir } : {}),
    ...(kind === 'pp-ime' ? { numeroInitialMdph: `MDPH${home.insee.slice(0, 2)}-${endYear - rng.int(1, 8)}-${rng.digits(6)}` } : {}),
    ...(age >= 18 ? { civilite: female ? 'MME' : 'M' } : {}),
    nomNaissance,
    prenom,
    // FR Core INS patients carry the birth list of given names (1..1 on the official name).
    ...(autres.length || withIns ? { prenoms: [prenom, ...autres].join(' ') } : {}),
    ...(married ? { nomUtilise: rng.pick(NOMS) } : {}),
    sexe: female ? 'female' : 'male',
    dateNaissance: birthDate,
    rangNaissance: rang,
    // Born abroad: the INSEE (COG) country code is the birth place code, as INSi returns it (D-28).
    lieuNaissance: abroad ? { codeInsee: abroad.insee, pays: abroad.iso3 } : { codeInsee: commune!.insee, commune: commune!.nom, pays: 'FRA' },
    adresse: { lignes: [`${rng.int(1, 120)} ${rng.pick(RUES)}`], codePostal: home.cp, commune: home.nom.replace(/ \d+e Arrondissement$/, ''), pays: 'FRA' },
  };
  return { usager: u, age };
}

function professionnel(s: Staff): Record<string, any> {
  const q = METIER_QUALIF[s.metier];
  return {
    idNatPs: s.idNatPs,
    civilite: s.civilite,
    nom: s.nom,
    prenom: s.prenom,
    ...(q ? { qualifications: [q] } : {}),
    role: {
      modeExercice: 'S',
      fonction: { system: 'https://mos.esante.gouv.fr/NOS/TRE_R85-RolePriseCharge/FHIR/TRE-R85-RolePriseCharge', code: '353', display: "Membre de l'équipe de soins" },
    },
  };
}

/** AGGIR variables with a consistent severity profile, the adverbs matching each modality, and the GIR. */
export function aggirGrid(rng: Rng, type: 'aggir-pa' | 'aggir-ph'): { gir: number; variables: Record<string, any>[] } {
  const severity = rng.next();
  const cognitive = rng.next();
  const byVariable = new Map<AggirVariable, Modality>();
  const draw = (v: AggirVariable): Modality => {
    const s = v === 'coherence' || v === 'orientation' || v === 'communication' ? cognitive : severity;
    const x = rng.next() * 0.5 + s * 0.75;
    return x < 0.45 ? 'A' : x < 0.85 ? 'B' : 'C';
  };
  const defs = type === 'aggir-pa' ? AGGIR_PA_ITEMS : AGGIR_PH_ITEMS;
  for (const d of defs) if (!byVariable.has(d.variable)) byVariable.set(d.variable, draw(d.variable));
  const variables = defs.map((d) => {
    const m = byVariable.get(d.variable)!;
    let adverbs: boolean[];
    if (m === 'A') adverbs = [true, true, true, true];
    else if (m === 'C') adverbs = [false, false, false, false];
    else {
      adverbs = [rng.chance(0.6), rng.chance(0.4), rng.chance(0.6), rng.chance(0.5)];
      if (adverbs.every(Boolean)) adverbs[1] = false;
      if (adverbs.every((x) => !x)) adverbs[0] = true;
    }
    const [spontanement, totalement, correctement, habituellement] = adverbs;
    return { item: d.linkId, modalite: m, adverbes: { spontanement, totalement, correctement, habituellement } };
  });
  const m = (v: AggirVariable) => byVariable.get(v)!;
  const gir = computeGir({
    coherence: m('coherence'), orientation: m('orientation'), toilette: m('toilette'), habillage: m('habillage'),
    alimentation: m('alimentation'), elimination: m('elimination'), transferts: m('transferts'), deplacementInterieur: m('deplacementInterieur'),
  });
  return { gir, variables };
}

function ssiadPart(rng: Rng, s: Structure, doc: PivotDoc, end: number, age: number): void {
  const weeks = rng.int(1, 5);
  const first = end - (weeks * 7 - 1) * DAY;
  const ides = s.staff.filter((x) => x.metier === 'ide');
  const aides = s.staff.filter((x) => x.metier === 'as');
  const used = new Set<Staff>();
  const sejourId = String(rng.int(1000, 9999));
  doc.sejours = [{
    id: sejourId,
    statut: 'in-progress',
    dateEntree: isoDay(first - rng.int(10, 900) * DAY),
    ...(rng.chance(0.3) ? { libelleModeEntree: 'Sortie d’hospitalisation' } : {}),
  }];
  const perWeek = rng.int(3, 7);
  const evenements: Record<string, any>[] = [];
  const transports: Record<string, any>[] = [];
  let n = rng.int(10000, 60000);
  let tn = rng.int(100000, 500000);
  const totalDays = weeks * 7;
  for (let d = 0; d < totalDays; d++) {
    const day = first + d * DAY;
    const isEdge = d === 0 || d === totalDays - 1;
    if (!isEdge && !rng.chance(perWeek / 7)) continue;
    const visits = rng.chance(0.2) ? 2 : 1;
    for (let v = 0; v < visits; v++) {
      const nurse = rng.chance(0.35);
      const pro = nurse ? rng.pick(ides) : rng.pick(aides.length ? aides : ides);
      used.add(pro);
      // The first visit of the first day is early and the last day has an evening visit, so the
      // history spans exactly `weeks` weeks once rounded up (7 ≤ days ≤ 35, the SSIAD window).
      const evening = v === 1 || (d === totalDays - 1 && visits === 1);
      const startMin = d === 0 && v === 0 ? rng.int(7 * 12, 8 * 12) * 5 : evening ? rng.int(17 * 12, 19 * 12) * 5 : rng.int(7 * 12, 11 * 12) * 5;
      const duration = rng.pick([20, 30, 30, 45, 45, 60]);
      const isLastDay = d === totalDays - 1;
      const cancelled = !isEdge && rng.chance(0.04);
      const id = String(n++);
      const ev: Record<string, any> = {
        id,
        sejour: sejourId,
        statut: isLastDay ? 'planned' : cancelled ? 'cancelled' : 'finished',
        types: [{ ssiad: nurse ? TYPES_SSIAD[2] : TYPES_SSIAD[0] }],
        debut: at(day, startMin),
        fin: at(day, startMin + duration),
        libelle: nurse ? rng.pick(['Soins infirmiers à domicile', 'Pansement', 'Préparation du pilulier', 'Surveillance glycémie']) : rng.pick(['Aide à la toilette', 'Aide au lever', 'Aide au coucher', "Aide à l'habillage"]),
        professionnels: [pro.idNatPs],
      };
      if (!isLastDay && !cancelled) {
        ev.usagerPresent = true;
        if (rng.chance(0.15)) ev.compteRendu = rng.pick(['RAS', 'Usager fatigué, à surveiller', 'Rougeur au talon droit, prévention escarre', 'Bonne participation']);
      }
      if (rng.chance(0.05)) ev.ressources = [{ type: { code: 'ORG-206', display: 'Matériel spécialisé' } }];
      evenements.push(ev);
      if (!cancelled && rng.chance(0.7)) {
        const km = rng.int(1, 18);
        transports.push({
          id: String(tn++),
          type: 'professionnel',
          evenement: id,
          professionnel: pro.idNatPs,
          statut: isLastDay ? 'requested' : 'completed',
          modeTransport: { code: 'ORG-202', display: 'Véhicule individuel' },
          debut: at(day, startMin - Math.min(55, 5 + km * 2)),
          fin: at(day, startMin),
          ...(rng.chance(0.3) ? { typeMotorisation: { code: 'GEN-355', display: 'Véhicule électrique' } } : {}),
          distanceKm: km,
          dureeMinutes: Math.min(55, 5 + km * 2),
          ...(rng.chance(0.5) ? { budgetPrevisionnel: Math.round(km * 0.6 * 100) / 100, budgetReel: Math.round(km * 0.62 * 100) / 100 } : {}),
        });
      }
      if (!cancelled && !isLastDay && rng.chance(0.06)) {
        transports.push({
          id: String(tn++),
          type: 'usager',
          evenement: id,
          statut: 'completed',
          modeTransport: { code: 'ORG-156', display: 'Taxi' },
          debut: at(day, startMin + duration),
          fin: at(day, startMin + duration + 30),
          accompagnement: rng.chance(0.5),
          asepsieRigoureuse: false,
          natureTransport: rng.pick([
            { code: '3.2.4.2', display: 'Transports liés aux prestations de soins, de maintien et de développement des capacités fonctionnelles' },
            { code: '3.2.4.3', display: 'Transports liés à l’autonomie et à la participation sociale' },
          ]),
          distanceKm: rng.int(3, 30),
        });
      }
    }
  }
  doc.evenements = evenements;
  doc.transports = transports;
  const evaluator = rng.pick(ides);
  used.add(evaluator);
  const type = age >= 60 ? 'aggir-pa' : 'aggir-ph';
  const grid = aggirGrid(rng, type);
  const firstEvent = evenements[0];
  const evaluations: Record<string, any>[] = [
    { id: String(rng.int(1_000_000, 9_999_999)), type, statut: 'completed', date: firstEvent.debut.slice(0, 10), evenement: firstEvent.id, evaluateur: evaluator.idNatPs, gir: grid.gir, variables: grid.variables },
  ];
  if (rng.chance(0.6)) {
    const flags = SITUATION_ITEMS.filter((x) => x !== 'aucun-motif').map((item) => ({ item, valeur: rng.chance(0.2) }));
    const none = flags.every((f) => !f.valeur);
    evaluations.push({
      id: String(rng.int(1_000_000, 9_999_999)),
      type: 'situation-ssiad',
      statut: 'completed',
      date: firstEvent.debut.slice(0, 10),
      evenement: firstEvent.id,
      evaluateur: evaluator.idNatPs,
      indicateurs: [...flags, { item: 'aucun-motif', valeur: none }],
    });
  }
  doc.evaluations = evaluations;
  doc.professionnels = s.staff.filter((x) => used.has(x)).map(professionnel);
}

function ppPart(rng: Rng, s: Structure, doc: PivotDoc, end: number, ime: boolean, name: string): void {
  const start = end - rng.int(20, 300) * DAY;
  const staff = s.staff;
  const referent = staff[0];
  const used = new Set<Staff>([referent]);
  const docId = `entrant-${rng.int(1000, 9999)}`;
  doc.documents = [{ id: docId, titre: `projet-entrant-${doc.usager.idLocal}.pdf`, typeMime: 'application/pdf', donnees: pdfBase64(`Projet personnalise - ${name}`), date: at(start - 5 * DAY, 10 * 60) }];
  const evals: Record<string, any>[] = [];
  if (ime) {
    evals.push({
      id: String(rng.int(1_000_000, 9_999_999)),
      type: 'serafin',
      date: isoDay(start - 10 * DAY),
      evaluateur: referent.idNatPs,
      besoins: ['besoin-fonc-ment', 'besoin-entretien-personnel', 'besoin-relations', 'besoin-vie-scolaire'] // in the questionnaire's order
        .filter(() => rng.chance(0.8))
        .concat(['besoin-apprentissage'])
        .map((item) => ({ item, valeur: rng.pick([11, 21, 31]) })),
    });
  } else {
    const grid = aggirGrid(rng, 'aggir-pa');
    const full = rng.chance(0.5);
    evals.push({ id: String(rng.int(1_000_000, 9_999_999)), type: 'aggir-pa', date: isoDay(start - 10 * DAY), evaluateur: referent.idNatPs, gir: grid.gir, ...(full ? { variables: grid.variables } : {}) });
  }
  doc.evaluations = evals;
  const nb = rng.int(1, 3);
  const besoinsPick = [...BESOINS_SERAFIN].sort(() => rng.next() - 0.5).slice(0, nb);
  let k = rng.int(1000, 8000);
  const besoins = besoinsPick.map((b) => ({ id: String(k++), description: b.texte, type: { code: b.code, display: b.display }, ...(rng.chance(0.5) ? { analyse: 'Analyse de l’équipe pluridisciplinaire' } : {}) }));
  const objectifs = besoins.map((b, i) => {
    const o: Record<string, any> = {
      id: String(k++),
      titre: `Objectif ${i + 1}`,
      description: ime
        ? rng.pick(['Développer la communication avec ses pairs', 'Gagner en autonomie pour s’habiller', 'Participer aux activités de groupe', 'Consolider les apprentissages scolaires'])
        : rng.pick(['Réduire le risque de chute en 6 mois', 'Maintenir la marche avec aide technique', 'Préserver les liens sociaux', 'Stabiliser le poids et le plaisir alimentaire']),
      dateDebut: isoDay(start),
      dateFin: isoDay(start + 180 * DAY),
      referent: referent.idNatPs,
      besoins: [b.id],
      statut: 'active',
    };
    if (rng.chance(0.5)) o.resultatAttendu = 'Amélioration constatée au bilan';
    if (!ime && i === 0) o.evaluations = [evals[0].id];
    if (rng.chance(0.4)) o.avisUsager = ime ? 'Content de participer' : 'D’accord avec l’objectif';
    return o;
  });
  const actions: Record<string, any>[] = [];
  const moyens: Record<string, any>[] = [];
  const prestations: Record<string, any>[] = [];
  for (const o of objectifs) {
    for (let a = 0; a < rng.int(1, 2); a++) {
      const pro = rng.pick(staff);
      const action: Record<string, any> = {
        id: String(k++),
        titre: `Action ${a + 1} pour ${o.titre.toLowerCase()}`,
        description: ime ? rng.pick(['Atelier en petit groupe', 'Séance individuelle', 'Accompagnement en classe']) : rng.pick(['Séances de rééducation', 'Aménagement de la chambre', 'Atelier mémoire', 'Accompagnement aux repas']),
        debut: isoDay(start + rng.int(0, 20) * DAY),
        objectifs: [o.id],
        statut: 'in-progress',
      };
      if (ime && rng.chance(0.5)) action.referentLibelle = rng.pick(['AESH', 'Éducateur spécialisé']);
      else {
        action.referent = pro.idNatPs;
        used.add(pro);
      }
      actions.push(action);
      if (rng.chance(0.5)) moyens.push({ id: String(k++), titre: 'Moyens mobilisés', type: rng.pick(['Matériel', 'Humain', 'Financier']), action: action.id, statut: 'in-progress' });
      if (rng.chance(0.4)) prestations.push({ id: String(k++), titre: ime ? 'Accompagnement éducatif' : 'Soins de rééducation', action: action.id, debut: action.debut, statut: 'in-progress' });
    }
  }
  const attentes = [
    { id: String(k++), description: ime ? 'Avoir des copains et aller à l’école' : 'Rester le plus autonome possible', origine: 'Usager' },
    ...(rng.chance(0.7) ? [{ id: String(k++), description: ime ? 'Que Hugo progresse en autonomie' : 'Prévenir les chutes ; maintenir le lien familial', origine: 'Famille', commentaires: ['Recueilli lors de l’entretien d’admission'] }] : []),
  ];
  if (ime) attentes[1] && (attentes[1].description = `Que ${doc.usager.prenom} progresse en autonomie`);
  const bilans = rng.chance(0.5)
    ? [{
        id: String(k++),
        date: at(start + 150 * DAY > end ? end - DAY : start + 150 * DAY, 14 * 60),
        perimetre: 'Ensemble des objectifs',
        invite: ime ? 'Usager, parents, éducateur référent' : 'Usager, famille, IDE référente',
        dateProchainBilan: isoDay(start + 365 * DAY),
        syntheses: [{ auteur: { professionnel: referent.idNatPs }, texte: 'Objectifs en bonne voie' }, ...(rng.chance(0.5) ? [{ auteur: { usager: true as const }, texte: 'Je suis satisfait' }] : [])],
        syntheseBilan: 'Projet reconduit',
        statut: 'completed',
      }]
    : [];
  // Contacts: the parents of an IME child (legal guardians, they sign the agreement); for an
  // elderly person, a son or daughter, sometimes a guardian under a legal protection measure.
  const contacts: Record<string, any>[] = [];
  if (ime) {
    const mother = rng.chance(0.7);
    contacts.push({
      id: '1',
      civilite: mother ? 'MME' : 'M',
      nom: doc.usager.nomNaissance,
      prenom: rng.pick(mother ? PRENOMS_F : PRENOMS_M),
      sexe: mother ? 'female' : 'male',
      telephone: `06${rng.digits(8)}`,
      role: { code: 'GUARD', display: 'Responsable légal' },
      relation: mother ? { code: 'MTH', display: 'Mère' } : { code: 'FTH', display: 'Père' },
    });
  } else if (rng.chance(0.6)) {
    const daughter = rng.chance(0.6);
    contacts.push({
      id: '1',
      civilite: daughter ? 'MME' : 'M',
      nom: daughter && rng.chance(0.5) ? rng.pick(NOMS) : doc.usager.nomNaissance,
      prenom: rng.pick(daughter ? PRENOMS_F : PRENOMS_M),
      sexe: daughter ? 'female' : 'male',
      telephone: `06${rng.digits(8)}`,
      ...(rng.chance(0.5) ? { email: `contact${rng.digits(4)}@example.fr` } : {}),
      relation: daughter ? { code: 'DAU', display: 'Fille biologique' } : { code: 'SON', display: 'Fils biologique' },
      description: 'Personne à prévenir',
    });
    if (rng.chance(0.15)) contacts.push({ id: '2', nom: rng.pick(NOMS), prenom: rng.pick(PRENOMS_M), protectionJuridique: 'TUTEUR', description: 'Mandataire judiciaire' });
  }
  if (contacts.length) doc.contacts = contacts;
  const accordUsager = ime
    ? [{ type: 'usager' as const, date: at(start, 10 * 60 + 30), signataire: { contact: '1' } }]
    : rng.chance(0.7)
      ? [{ type: 'usager' as const, date: at(start, 10 * 60 + 30), signataire: { usager: true as const } }]
      : [];
  if (bilans[0] && contacts.length && rng.chance(0.5)) bilans[0].syntheses.push({ auteur: { contact: '1' } as any, texte: 'La famille est satisfaite' });
  doc.projetsPersonnalises = [{
    id: String(rng.int(10, 9999)),
    titre: `Projet personnalisé de ${name}`,
    statut: 'active',
    auteurStatut: referent.idNatPs,
    debut: isoDay(start),
    fin: isoDay(start + 365 * DAY),
    modaliteCommunication: ime ? 'Réunion avec les parents' : 'Entretien avec l’usager et sa famille',
    documents: [docId],
    accords: [
      { type: 'structure', date: at(start, 10 * 60), signataire: { professionnel: referent.idNatPs } },
      ...accordUsager,
    ],
    attentes,
    besoins,
    objectifs,
    actions,
    moyens,
    prestations,
    bilans,
  }];
  doc.professionnels = staff.filter((x) => used.has(x)).map(professionnel);
}

/** TDDUI 2.3.0 content: the new usager fields, patient validation of events, observations. */
function v23Part(rng: Rng, doc: PivotDoc, end: number, kind: Kind, age: number): void {
  doc.igVersion = '2.3.0';
  const u = doc.usager;
  // tddui-patient: birthDate 1..1 in 2.3.0 (the generator always gives one).
  if (rng.chance(0.5)) u.nationalite = rng.chance(0.9) ? { code: 'FRA', display: 'France' } : { code: 'PRT', display: 'Portugal' };
  if (rng.chance(0.6)) u.situationFoyer = { situationFamiliale: rng.pick(FAMILY_SITUATIONS), ...(rng.chance(0.4) ? { description: rng.pick(['Vit avec sa fille', 'Vit seul, voisin présent', 'Vit en couple']) } : {}) };
  if (rng.chance(0.3)) u.commentaire = rng.pick(['Préfère être appelé le matin', 'Porte un appareil auditif', 'Allergie aux pansements adhésifs']);
  if (age >= 18 && rng.chance(0.3)) u.permisConduire = [{ numero: rng.digits(9), systeme: 'https://ants.gouv.fr/', debut: isoDay(end - rng.int(5, 50) * 365 * DAY) }];
  for (const e of doc.evenements ?? []) if (e.statut === 'finished' && rng.chance(0.5)) e.valideParUsager = true;
  // professionnel-requis (D-34): the responsable or the auteur of every evaluation.
  for (const ev of doc.evaluations ?? []) if (ev.responsable === undefined && ev.auteur === undefined) ev.auteur = ev.evaluateur ?? doc.professionnels?.[0]?.idNatPs;
  const observations: Record<string, any>[] = [];
  if (kind !== 'pp-ime' && rng.chance(0.4)) {
    observations.push({ type: 'mobilite', mode: rng.pick(TRANSPORT_MODES), ...(rng.chance(0.5) ? { amenagement: rng.pick(['Fauteuil roulant', 'Rampe d’accès nécessaire', 'Accompagnement à la marche']) } : {}), date: isoDay(end - rng.int(1, 30) * DAY) });
  }
  if (kind === 'pp-ime' && doc.contacts?.length) {
    const start = end - rng.int(30, 200) * DAY;
    observations.push({
      type: 'periode-scolaire',
      id: String(rng.int(1000, 99999)),
      referent: doc.contacts[0].id,
      debut: isoDay(start),
      fin: isoDay(start + 300 * DAY),
      typesEnseignement: [rng.pick(SCHOOL_TYPES)],
      ...(rng.chance(0.5) ? { volumeHeures: rng.pick([6, 12, 18, 24]) } : {}),
      ...(rng.chance(0.3) ? { note: 'Emploi du temps aménagé' } : {}),
    });
  }
  if (kind === 'ssiad' && age > 80 && rng.chance(0.05)) {
    const death = end;
    u.dateDeces = isoDay(death);
    if (rng.chance(0.5)) u.lieuDeces = 'Domicile';
    observations.push({ type: 'cause-deces', cause: rng.pick(DEATH_CAUSES), date: isoDay(death) });
  }
  if (observations.length) doc.observations = observations;
}

/** Codes of the 2.3.0 value sets, as the official examples give them. */
const FAMILY_SITUATIONS = [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_R317-SituationVieQuotidienne/FHIR/TRE-R317-SituationVieQuotidienne', code: '01', display: 'Seul' }];
const TRANSPORT_MODES = [{ code: 'ORG-160', display: 'VSL' }, { code: 'ORG-156', display: 'Taxi' }];
const SCHOOL_TYPES = [{ code: '3', display: 'Scolarisation en ULIS collège' }];
const DEATH_CAUSES = [{ code: 'J81', display: 'Œdème pulmonaire' }, { code: 'I21', display: 'Infarctus aigu du myocarde' }];

function endOf(options: GenerateOptions): number {
  const d = options.endDate ?? new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) throw new Error(`endDate must be YYYY-MM-DD, not "${d}"`);
  return Date.parse(`${d}T00:00:00Z`);
}

/** Generates `count` usagers; usager i is the same whatever the count (per-index seeding). */
export function generateUsagers(options: GenerateOptions): PivotInput[] {
  const seed = options.seed ?? 1;
  const end = endOf(options);
  const pool = structures(seed);
  const root = new Rng(`usagers:${seed}`);
  const out: PivotInput[] = [];
  for (let i = 0; i < options.count; i++) {
    const rng = root.fork(i);
    const r = rng.next();
    const kind: Kind = r < 0.6 ? 'ssiad' : r < 0.85 ? 'pp-pa' : 'pp-ime';
    const candidates = pool.filter((s) => s.kind === kind);
    const s = rng.pick(candidates);
    const idLocal = String(100000 + i * 7 + rng.int(0, 6));
    const home = rng.chance(0.8) ? s.commune : rng.pick(COMMUNES);
    const { usager, age } = identity(rng, end, kind, idLocal, home);
    const doc: PivotDoc = { format: PIVOT_FORMAT, structure: { finess: s.finess, raisonSociale: s.raisonSociale }, usager } as PivotDoc;
    const name = `${usager.civilite === 'MME' ? 'Mme ' : usager.civilite === 'M' ? 'M. ' : ''}${usager.prenom} ${usager.nomNaissance.charAt(0)}.`;
    if (kind === 'ssiad') ssiadPart(rng, s, doc, end, age);
    else ppPart(rng, s, doc, end, kind === 'pp-ime', name);
    // Its own random stream: the 2.2.0 content of usager i is the same in both versions.
    if (options.igVersion === '2.3.0') v23Part(root.fork(1_000_000 + i), doc, end, kind, age);
    else if (options.igVersion) doc.igVersion = options.igVersion;
    out.push(doc as PivotInput);
  }
  return out;
}
