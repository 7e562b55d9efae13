// Reference lists for synthetic French data. Communes carry their INSEE (COG) code, which the NIR
// encodes (positions 6–10), and a postal code for addresses. Paris, Lyon and Marseille births are
// recorded by arrondissement, as in real NIRs.

export interface Commune {
  insee: string;
  nom: string;
  cp: string;
}

export const COMMUNES: Commune[] = [
  { insee: '75111', nom: 'Paris 11e Arrondissement', cp: '75011' },
  { insee: '75115', nom: 'Paris 15e Arrondissement', cp: '75015' },
  { insee: '69383', nom: 'Lyon 3e Arrondissement', cp: '69003' },
  { insee: '13208', nom: 'Marseille 8e Arrondissement', cp: '13008' },
  { insee: '33063', nom: 'Bordeaux', cp: '33000' },
  { insee: '31555', nom: 'Toulouse', cp: '31000' },
  { insee: '59350', nom: 'Lille', cp: '59000' },
  { insee: '67482', nom: 'Strasbourg', cp: '67000' },
  { insee: '44109', nom: 'Nantes', cp: '44000' },
  { insee: '06088', nom: 'Nice', cp: '06000' },
  { insee: '34172', nom: 'Montpellier', cp: '34000' },
  { insee: '35238', nom: 'Rennes', cp: '35000' },
  { insee: '76540', nom: 'Rouen', cp: '76000' },
  { insee: '63113', nom: 'Clermont-Ferrand', cp: '63000' },
  { insee: '21231', nom: 'Dijon', cp: '21000' },
  { insee: '87085', nom: 'Limoges', cp: '87000' },
  { insee: '2A004', nom: 'Ajaccio', cp: '20000' },
  { insee: '2B033', nom: 'Bastia', cp: '20200' },
  { insee: '29019', nom: 'Brest', cp: '29200' },
  { insee: '37261', nom: 'Tours', cp: '37000' },
  { insee: '45234', nom: 'Orléans', cp: '45000' },
  { insee: '80021', nom: 'Amiens', cp: '80000' },
  { insee: '51454', nom: 'Reims', cp: '51100' },
  { insee: '57463', nom: 'Metz', cp: '57000' },
  { insee: '38185', nom: 'Grenoble', cp: '38000' },
  { insee: '42218', nom: 'Saint-Étienne', cp: '42000' },
  { insee: '49007', nom: 'Angers', cp: '49000' },
  { insee: '86194', nom: 'Poitiers', cp: '86000' },
  { insee: '64445', nom: 'Pau', cp: '64000' },
  { insee: '30189', nom: 'Nîmes', cp: '30000' },
  { insee: '84007', nom: 'Avignon', cp: '84000' },
  { insee: '83137', nom: 'Toulon', cp: '83000' },
  { insee: '97411', nom: 'Saint-Denis', cp: '97400' },
  { insee: '97101', nom: 'Les Abymes', cp: '97139' },
];

/** Births abroad: NIR department 99 + INSEE country code; ISO 3166 alpha-3 for the address. */
export const PAYS_ETRANGERS = [
  { insee: '99350', iso3: 'MAR' },
  { insee: '99352', iso3: 'DZA' },
  { insee: '99134', iso3: 'ESP' },
  { insee: '99127', iso3: 'ITA' },
  { insee: '99139', iso3: 'PRT' },
];

export const NOMS = [
  'MARTIN', 'BERNARD', 'THOMAS', 'PETIT', 'ROBERT', 'RICHARD', 'DURAND', 'DUBOIS', 'MOREAU', 'LAURENT',
  'SIMON', 'MICHEL', 'LEFEBVRE', 'LEROY', 'ROUX', 'DAVID', 'BERTRAND', 'MOREL', 'FOURNIER', 'GIRARD',
  'BONNET', 'DUPONT', 'LAMBERT', 'FONTAINE', 'ROUSSEAU', 'VINCENT', 'MULLER', 'LEFEVRE', 'FAURE', 'ANDRE',
  'MERCIER', 'BLANC', 'GUERIN', 'BOYER', 'GARNIER', 'CHEVALIER', 'FRANCOIS', 'LEGRAND', 'GAUTHIER', 'GARCIA',
  'PERRIN', 'ROBIN', 'CLEMENT', 'MORIN', 'NICOLAS', 'HENRY', 'ROUSSEL', 'MATHIEU', 'GAUTIER', 'MASSON',
  'MARCHAND', 'DUVAL', 'DENIS', 'DUMONT', 'MARIE', 'LEMAIRE', 'NOEL', 'MEYER', 'DUFOUR', 'MEUNIER',
  'BRUN', 'BLANCHARD', 'GIRAUD', 'JOLY', 'RIVIERE', 'LUCAS', 'BRUNET', 'GAILLARD', 'BARBIER', 'ARNAUD',
  'SANTONI', 'CASANOVA', 'PAOLI', 'ALBERTINI',
];

export const PRENOMS_F = [
  'Marie', 'Jeanne', 'Françoise', 'Monique', 'Catherine', 'Nathalie', 'Isabelle', 'Jacqueline', 'Anne', 'Sylvie',
  'Martine', 'Madeleine', 'Nicole', 'Suzanne', 'Hélène', 'Christine', 'Marguerite', 'Denise', 'Louise', 'Christiane',
  'Yvette', 'Odette', 'Simone', 'Germaine', 'Paulette', 'Josiane', 'Élodie', 'Camille', 'Léa', 'Chloé',
  'Manon', 'Inès', 'Jade', 'Zoé', 'Éliane', 'Geneviève', 'Thérèse', 'Renée', 'Colette', 'Brigitte',
];

export const PRENOMS_M = [
  'Jean', 'Pierre', 'Michel', 'André', 'Philippe', 'René', 'Louis', 'Alain', 'Jacques', 'Bernard',
  'Marcel', 'Daniel', 'Roger', 'Robert', 'Paul', 'Claude', 'Christian', 'Henri', 'Georges', 'Nicolas',
  'François', 'Patrick', 'Gérard', 'Raymond', 'Maurice', 'Lucien', 'Joseph', 'Gilbert', 'Yves', 'Hugo',
  'Lucas', 'Léo', 'Gabriel', 'Raphaël', 'Arthur', 'Jules', 'Noé', 'Étienne', 'Émile', 'Théo',
];

export const RUES = [
  'rue des Lilas', 'avenue de la République', 'rue Victor Hugo', 'place de la Mairie', 'chemin des Vignes',
  'rue Pasteur', 'boulevard Gambetta', 'rue Jean Jaurès', 'allée des Tilleuls', 'rue du Moulin',
  'impasse des Acacias', 'route de la Gare',
];

/** Event types of jdv-type-evenement-ssiad-cisis used by the generator. */
export const TYPES_SSIAD = [
  { code: 'MED-1296', display: "Intervention d'un aide soignant" },
  { code: 'MED-1297', display: "Intervention d'un infirmier libéral" },
  { code: 'MED-1298', display: "Intervention d'un infirmer salarié" },
] as const;

/** SERAFIN-PH family 1 (JDV_J285), for besoins of a projet personnalisé. */
export const BESOINS_SERAFIN = [
  { code: '1.1.1', display: 'Besoins en matière de fonctions mentales, psychiques, cognitives et du système nerveux', texte: 'Besoin de stimulation cognitive' },
  { code: '1.1.8', display: 'Besoins en matière de fonctions locomotrices', texte: 'Besoin de maintenir la marche' },
  { code: '1.2.1.1', display: "Besoins en lien avec l'entretien personnel", texte: "Besoin d'aide pour la toilette et l'habillage" },
  { code: '1.2.1.2', display: 'Besoins en lien avec les relations et les interactions avec autrui', texte: 'Besoin de maintenir des liens sociaux' },
  { code: '1.2.1.3', display: 'Besoins pour la mobilité', texte: "Besoin d'aide pour la mobilité et les déplacements" },
  { code: '1.3.4.1', display: 'Besoins pour participer à la vie sociale', texte: 'Besoin de participer aux activités collectives' },
] as const;
