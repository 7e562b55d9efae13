// An example of the fix for each rule id, in English and French: what `tddui rules ID` shows
// after the rule's texts. Short before → after snippets of FHIR JSON, or the action to take.
// A rule whose findings say a check could not be made (category not-checked) has one fix for
// all: give the missing package.

export interface RuleFix {
  en: string;
  fr: string;
}

const NOT_CHECKED: RuleFix = {
  en: 'Nothing to change in the data: add the missing package (named in the message) to the package sources (--packages, or the FHIR package cache), and the check is made.',
  fr: 'Rien à changer dans les données : ajouter le paquet manquant (nommé dans le message) aux sources de paquets (--packages, ou le cache de paquets FHIR), et la vérification est faite.',
};

const IG_DEFECT: RuleFix = {
  en: 'Nothing to change in the data: the IG contradicts itself here and the data follow it (docs/decisions.md).',
  fr: 'Rien à changer dans les données : le guide se contredit ici et les données le suivent (docs/decisions.md).',
};

const FIXES: Record<string, RuleFix> = {
  'fhir-json-syntax': {
    en: 'Produce the file with a JSON (or XML) serializer, never by string concatenation: a missing "}" or a trailing comma makes the whole file unreadable. The message gives the line and column.',
    fr: 'Produire le fichier avec un sérialiseur JSON (ou XML), jamais par concaténation de texte : une « } » manquante ou une virgule en trop rend tout le fichier illisible. Le message donne la ligne et la colonne.',
  },
  'fhir-not-a-resource': { en: '[ {...} ] → { "resourceType": "Bundle", ... }', fr: '[ {...} ] → { "resourceType": "Bundle", ... }' },
  'fhir-unknown-resource-type': { en: '"resourceType": "Patients" → "resourceType": "Patient"', fr: '« "resourceType": "Patients" » → « "resourceType": "Patient" »' },
  'fhir-unknown-element': {
    en: 'Remove the property or move it to its element: "Patient": { "birthdate": "1950-01-01" } → { "birthDate": "1950-01-01" }; data of your own go in an extension.',
    fr: 'Retirer la propriété ou la mettre à sa place : « "birthdate": "1950-01-01" » → « "birthDate": "1950-01-01" » ; vos propres données vont dans une extension.',
  },
  'fhir-empty-element': { en: '"telecom": [] or "note": "" → leave the element out.', fr: '« "telecom": [] » ou « "note": "" » → ne pas écrire l’élément.' },
  'fhir-array-expected': { en: '"identifier": { ... } → "identifier": [ { ... } ]', fr: '« "identifier": { ... } » → « "identifier": [ { ... } ] »' },
  'fhir-array-unexpected': { en: '"birthDate": ["1950-01-01"] → "birthDate": "1950-01-01"', fr: '« "birthDate": ["1950-01-01"] » → « "birthDate": "1950-01-01" »' },
  'fhir-choice-multiple': { en: '"valueString": "3", "valueInteger": 3 → keep one: "valueInteger": 3', fr: '« "valueString": "3", "valueInteger": 3 » → n’en garder qu’un : « "valueInteger": 3 »' },
  'fhir-json-type': { en: '"active": "true" → "active": true; "rank": "1" → "rank": 1', fr: '« "active": "true" » → « "active": true » ; « "rank": "1" » → « "rank": 1 »' },
  'fhir-primitive-format': {
    en: '"birthDate": "01/02/1950" → "1950-02-01"; a dateTime with a time needs its zone: "2024-05-02T08:30:00+02:00".',
    fr: '« "birthDate": "01/02/1950" » → « "1950-02-01" » ; un dateTime avec heure porte son fuseau : « "2024-05-02T08:30:00+02:00" ».',
  },
  'fhir-narrative-syntax': { en: '"<div>Mme&nbsp;D.</div>" → "<div xmlns=\\"http://www.w3.org/1999/xhtml\\">Mme D.</div>" (no HTML entities, every element closed)', fr: '« <div>Mme&nbsp;D.</div> » → « <div xmlns="http://www.w3.org/1999/xhtml">Mme D.</div> » (pas d’entité HTML, chaque élément fermé)' },
  'fhir-narrative-root': { en: '"<p>…</p>" → "<div xmlns=\\"http://www.w3.org/1999/xhtml\\"><p>…</p></div>"', fr: '« <p>…</p> » → « <div xmlns="http://www.w3.org/1999/xhtml"><p>…</p></div> »' },
  'fhir-narrative-content': { en: 'Remove <script>, event attributes (onclick) and external links from Narrative.div; keep plain XHTML.', fr: 'Retirer <script>, les attributs d’évènement (onclick) et les liens externes de Narrative.div ; garder du XHTML simple.' },
  'fhir-narrative-empty': { en: 'Write the text of the resource in the div, or leave "text" out (TDDUI does not require it).', fr: 'Écrire le texte de la ressource dans la div, ou ne pas écrire « text » (TDDUI ne l’exige pas).' },
  'fhir-string-whitespace': { en: '"family": " DUPONT " → "family": "DUPONT" (trim the values of your DUI).', fr: '« "family": " DUPONT " » → « "family": "DUPONT" » (supprimer les espaces autour des valeurs du DUI).' },
  'fhir-cardinality-min': {
    en: 'Add the missing element the message names, e.g. the séjour\'s "period": { "start": "2024-01-15" }; when it is a slice (identifier:idStay), add an item that matches it (its discriminator: type.coding.code = the expected code).',
    fr: 'Ajouter l’élément manquant que nomme le message, par ex. la « period » du séjour : { "start": "2024-01-15" } ; pour une tranche (identifier:idStay), ajouter un élément qui y correspond (son discriminant : type.coding.code = le code attendu).',
  },
  'fhir-cardinality-max': { en: 'Keep only the allowed number: two "birthDate" values or two INS identifiers → one; an element with max = 0 must not be sent.', fr: 'Ne garder que le nombre permis : deux INS → un seul ; un élément de cardinalité max 0 ne doit pas être transmis.' },
  'fhir-fixed-value': { en: 'Use exactly the value of the profile: "system": "http://www.w3.org/ns/" → the system the message gives, character for character.', fr: 'Reprendre exactement la valeur du profil : le system donné par le message, au caractère près.' },
  'fhir-pattern-value': { en: 'The element must contain the pattern: "type": { "coding": [ { "system": "…", "code": "SEJ" } ] } with the system and code the message gives.', fr: 'L’élément doit contenir le motif : « "type": { "coding": [ { "system": "…", "code": "SEJ" } ] } » avec le system et le code du message.' },
  'fhir-max-length': { en: 'Shorten the value to the length the message gives (cut a free text, or move it to a note).', fr: 'Raccourcir la valeur à la longueur donnée par le message (couper un texte libre, ou le mettre dans une note).' },
  'fhir-value-range': { en: 'Send a value within the bounds the message gives (e.g. a birth order between 1 and 999).', fr: 'Transmettre une valeur dans les bornes données par le message (par ex. un rang de naissance entre 1 et 999).' },
  'fhir-slice-cardinality-min': { en: 'Add an item that matches the slice: the message gives its discriminator, e.g. identifier with "type": { "coding": [ { "code": "INS-NIR" } ] }.', fr: 'Ajouter un élément qui correspond à la tranche : le message donne son discriminant, par ex. un identifier avec « "type": { "coding": [ { "code": "INS-NIR" } ] } ».' },
  'fhir-slice-cardinality-max': { en: 'Send one item per slice: two identifiers of type INS-NIR → keep the current one.', fr: 'Un seul élément par tranche : deux identifiants de type INS-NIR → garder celui qui est à jour.' },
  'fhir-slice-closed': { en: 'The slicing is closed: make the item match one slice (its discriminator value) or remove it.', fr: 'Le découpage est fermé : faire correspondre l’élément à une tranche (valeur du discriminant) ou le retirer.' },
  'fhir-slice-unmatched': { en: 'Nothing required (open slicing); check the item was not meant for a slice whose discriminator it misses.', fr: 'Rien d’obligatoire (découpage ouvert) ; vérifier que l’élément n’était pas destiné à une tranche dont il manque le discriminant.' },
  'fhir-slice-order': { en: 'Send the items in the order of the slices of the profile.', fr: 'Transmettre les éléments dans l’ordre des tranches du profil.' },
  'fhir-type-not-allowed': { en: '"valueString": "12" where a Quantity is expected → "valueQuantity": { "value": 12, "unit": "…" }; or an entry of a type the Bundle profile allows.', fr: '« "valueString": "12" » là où une Quantity est attendue → « "valueQuantity": { "value": 12, "unit": "…" } » ; ou une entrée d’un type permis par le profil Bundle.' },
  'fhir-code-invalid': { en: '"gender": "F" → "gender": "female"; use a code of the required value set the message names.', fr: '« "gender": "F" » → « "gender": "female" » ; utiliser un code du jeu de valeurs obligatoire nommé par le message.' },
  'fhir-system-not-absolute': { en: '"system": "FINESS" → "system": "urn:oid:1.2.250.1.71.4.2.2"', fr: '« "system": "FINESS" » → « "system": "urn:oid:1.2.250.1.71.4.2.2" »' },
  'fhir-coding-system-is-valueset': { en: 'Coding.system names the code system, not the value set: "…/ValueSet/x" → "…/CodeSystem/x" (the one the value set includes).', fr: 'Coding.system désigne le système de codes, pas le jeu de valeurs : « …/ValueSet/x » → « …/CodeSystem/x » (celui que le jeu de valeurs inclut).' },
  'fhir-code-display': { en: 'Copy the display of the terminology (or leave "display" out): "display": "Femme" → the display the message gives.', fr: 'Reprendre le libellé de la terminologie (ou ne pas écrire « display ») : le libellé donné par le message.' },
  'fhir-code-not-in-extensible': { en: 'Prefer a code of the value set; a local code is allowed only when none fits, with its own system.', fr: 'Préférer un code du jeu de valeurs ; un code local n’est admis que si aucun ne convient, avec son propre system.' },
  'fhir-code-missing': { en: '"coding": [ { "display": "Domicile" } ] → add the code: { "system": "…", "code": "…", "display": "Domicile" }', fr: '« "coding": [ { "display": "Domicile" } ] » → ajouter le code : { "system": "…", "code": "…", "display": "Domicile" }' },
  'fhir-code-unknown': { en: 'Use a code the code system defines: "code": "QUAL" in fr-core-cs-v2-0445 → "VALI" (see docs/decisions.md D-27).', fr: 'Utiliser un code défini par le système : « "code": "QUAL" » dans fr-core-cs-v2-0445 → « "VALI" » (voir docs/decisions.md D-27).' },
  'fhir-invariant': { en: 'Meet the constraint the message quotes (its key and expression), e.g. per-1: "period": { "start": "2024-02-01", "end": "2024-01-01" } → end after start.', fr: 'Respecter la contrainte citée par le message (sa clé et son expression), par ex. per-1 : une « period » dont la fin précède le début → fin après le début.' },
  'fhir-extension-url-relative': { en: '"url": "tddui-birth-order" at the top → "url": "https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-birth-order"', fr: '« "url": "tddui-birth-order" » au premier niveau → l’URL canonique complète de l’extension.' },
  'fhir-extension-undefined': { en: 'Fix the extension url: copy it from the IG (the message suggests the nearest one).', fr: 'Corriger l’URL de l’extension : la reprendre du guide (le message propose la plus proche).' },
  'fhir-sub-extension-unknown': { en: 'Use only the sub-extensions the extension declares (their url is a bare name: "url": "type").', fr: 'N’utiliser que les sous-extensions déclarées par l’extension (leur url est un nom simple : « "url": "type" »).' },
  'fhir-modifier-extension-unknown': { en: 'Remove the modifierExtension, or load the IG that defines it: an unknown modifier changes the meaning and cannot be ignored.', fr: 'Retirer la modifierExtension, ou charger le guide qui la définit : un modificateur inconnu change le sens et ne peut être ignoré.' },
  'fhir-extension-context': { en: 'Put the extension on the element its context names (the message gives it), e.g. tddui-birth-order on Patient.birthDate, not on Patient.', fr: 'Placer l’extension sur l’élément prévu par son contexte (donné par le message), par ex. tddui-birth-order sur Patient.birthDate, pas sur Patient.' },
  'fhir-reference-format': { en: '"reference": "Patient 123" → "Patient/123" or "urn:uuid:…" (a full uuid)', fr: '« "reference": "Patient 123" » → « "Patient/123" » ou « "urn:uuid:…" » (un uuid complet)' },
  'fhir-bundle-fullurl-mismatch': { en: 'fullUrl "https://x/fhir/Patient/1" with resource id "2" → make them agree, or use "urn:uuid:…" fullUrls.', fr: 'fullUrl « https://x/fhir/Patient/1 » avec un id « 2 » → les accorder, ou utiliser des fullUrl « urn:uuid:… ».' },
  'fhir-bundle-fullurl-no-id': { en: 'Give the resource the id of its fullUrl, or use a "urn:uuid:…" fullUrl.', fr: 'Donner à la ressource l’id de son fullUrl, ou utiliser un fullUrl « urn:uuid:… ».' },
  'fhir-reference-type-mismatch': { en: '"reference": "Practitioner/1", "type": "Organization" → make "type" the referenced type, or leave it out.', fr: '« "reference": "Practitioner/1", "type": "Organization" » → accorder « type » avec la cible, ou ne pas l’écrire.' },
  'fhir-contained-duplicate-id': { en: 'Give each contained resource its own id: "#adr1", "#adr2".', fr: 'Donner à chaque ressource contenue son propre id : « #adr1 », « #adr2 ».' },
  'fhir-attachment-size': { en: 'Set "size" to the number of bytes of the decoded data (not the base64 length), or leave it out.', fr: 'Mettre dans « size » le nombre d’octets des données décodées (pas la longueur du base64), ou ne pas l’écrire.' },
  'fhir-attachment-hash': { en: 'Compute "hash" as the base64 SHA-1 of the decoded bytes (not of the base64 text), or leave it out.', fr: 'Calculer « hash » comme le SHA-1 en base64 des octets décodés (pas du texte base64), ou ne pas l’écrire.' },
  'fhir-qr-questionnaire-undefined': { en: '"questionnaire": the canonical of a TDDUI Questionnaire, as the IG publishes it (…/Questionnaire/tddui-questionnaire-aggir-pa).', fr: '« "questionnaire" » : l’URL canonique d’un Questionnaire TDDUI, telle que publiée (…/Questionnaire/tddui-questionnaire-aggir-pa).' },
  'fhir-qr-item-unknown': { en: 'Use the linkId of the Questionnaire at that place (copy the linkIds, never renumber them).', fr: 'Utiliser le linkId du Questionnaire à cet endroit (reprendre les linkId, ne jamais les renuméroter).' },
  'fhir-qr-item-order': { en: 'Send the items in the order of the Questionnaire.', fr: 'Transmettre les items dans l’ordre du Questionnaire.' },
  'fhir-qr-item-repeated': { en: 'Merge the two items with the same linkId into one (put several answers in "answer" if the question repeats).', fr: 'Fusionner les deux items de même linkId (plusieurs réponses dans « answer » si la question se répète).' },
  'fhir-qr-item-nesting': { en: 'item[q].item[...] → item[q].answer[0].item[...]: children of a question go under its answer.', fr: 'item[q].item[...] → item[q].answer[0].item[...] : les sous-items d’une question vont sous sa réponse.' },
  'fhir-qr-answer-not-allowed': { en: 'Remove the "answer" of the group or display item; answer its questions instead.', fr: 'Retirer la « answer » de l’item groupe ou affichage ; répondre à ses questions.' },
  'fhir-qr-answer-multiple': { en: 'Keep one answer: the question does not repeat.', fr: 'Garder une seule réponse : la question ne se répète pas.' },
  'fhir-qr-answer-type': { en: 'Answer with the type of the question: "valueString": "3" for an integer question → "valueInteger": 3; a choice → "valueCoding".', fr: 'Répondre dans le type de la question : « "valueString": "3" » pour une question entière → « "valueInteger": 3 » ; un choix → « "valueCoding" ».' },
  'fhir-qr-answer-option': { en: 'Answer with one of the answerOptions of the question (same system and code).', fr: 'Répondre par l’une des answerOption de la question (même system et même code).' },
  'fhir-qr-answer-valueset': { en: 'Answer with a code of the answerValueSet of the question.', fr: 'Répondre par un code du answerValueSet de la question.' },
  'fhir-qr-item-text': { en: 'Copy the text of the Questionnaire item (or leave "text" out).', fr: 'Reprendre le texte de l’item du Questionnaire (ou ne pas écrire « text »).' },
  'fhir-qr-item-disabled': { en: 'Remove the answers of an item that enableWhen disables (the answer it depends on says it does not apply).', fr: 'Retirer les réponses d’un item désactivé par enableWhen (la réponse dont il dépend dit qu’il ne s’applique pas).' },
  'fhir-qr-required': { en: 'Answer the required item the message names, or send the response with "status": "in-progress".', fr: 'Répondre à l’item obligatoire nommé par le message, ou transmettre la réponse avec « "status": "in-progress" ».' },
  'fhir-reference-unresolved': { en: 'Add the referenced resource to the Bundle with that fullUrl, or fix the "urn:uuid:…" (a typo in the uuid is the usual cause).', fr: 'Ajouter au Bundle la ressource référencée avec ce fullUrl, ou corriger le « urn:uuid:… » (souvent une faute dans l’uuid).' },
  'fhir-reference-outside-bundle': { en: 'Nothing required if the receiver already holds it; otherwise add it to the Bundle and refer to it by its "urn:uuid:…" fullUrl.', fr: 'Rien d’obligatoire si le destinataire la détient déjà ; sinon l’ajouter au Bundle et la référencer par son fullUrl « urn:uuid:… ».' },
  'fhir-reference-target-type': { en: '"subject": { "reference": "urn:uuid:<an Organization>" } → refer to the Patient.', fr: '« "subject" » qui pointe vers une Organization → pointer vers le Patient.' },
  'fhir-reference-target-profile': { en: 'Make the referenced resource conform to the target profile (its own errors are listed at its entry), or refer to one that does.', fr: 'Rendre la ressource référencée conforme au profil cible (ses erreurs sont listées à son entrée), ou référencer une ressource qui l’est.' },
  'fhir-profile-undefined': { en: 'Fix meta.profile: copy the canonical URL from the IG (the message suggests the nearest one).', fr: 'Corriger meta.profile : reprendre l’URL canonique du guide (le message propose la plus proche).' },
  'fhir-profile-chosen': { en: 'Nothing required; declare the profile in meta.profile to choose it yourself.', fr: 'Rien d’obligatoire ; déclarer le profil dans meta.profile pour le choisir soi-même.' },
  'fhir-nesting-too-deep': { en: 'Flatten the content: a FHIR resource never needs 128 levels (a recursive export loop is the usual cause).', fr: 'Aplatir le contenu : une ressource FHIR n’a jamais besoin de 128 niveaux (souvent une boucle dans l’export).' },
  'fhir-internal-error': { en: 'Not a defect of the data: report it with the file (the validator failed on it).', fr: 'Pas un défaut des données : le signaler avec le fichier (le validateur a échoué dessus).' },
  'tddui-bundle-entry-type': { en: 'Send only the resource types of the TDDUI Bundle\'s entry slices (Patient, Encounter, Organization, QuestionnaireResponse, Task…); send others by another flow.', fr: 'Ne transmettre que les types des tranches d’entrée du Bundle TDDUI (Patient, Encounter, Organization, QuestionnaireResponse, Task…) ; les autres passent par un autre flux.' },
  'tddui-bundle-entry-resource': { en: 'Every entry carries "resource" and "request": { "method": "POST", "url": "Patient" }.', fr: 'Chaque entrée porte « resource » et « request »: { "method": "POST", "url": "Patient" }.' },
  'tddui-ig-version': { en: 'Nothing required; pin the version in meta.profile (…/tddui-bundle|2.3.0) to choose it.', fr: 'Rien d’obligatoire ; fixer la version dans meta.profile (…/tddui-bundle|2.3.0) pour la choisir.' },
  'tddui-ig-version-none': { en: 'Fix the errors of the version shown (the one with the fewest), or pin the version you produce in meta.profile.', fr: 'Corriger les erreurs de la version présentée (celle qui en a le moins), ou fixer dans meta.profile la version produite.' },
  'tddui-nir-format': { en: '"value": "1 47 07 25 367 411 30" → "147072536741130": 15 characters, no spaces (2A/2B kept for Corsica).', fr: '« "value": "1 47 07 25 367 411 30" » → « "147072536741130" » : 15 caractères, sans espace (2A/2B conservés pour la Corse).' },
  'tddui-nir-key': { en: 'Recompute the key: 97 − (the 13-digit number mod 97), with 2A → 19 and 2B → 18; the message gives the expected key.', fr: 'Recalculer la clé : 97 − (numéro à 13 chiffres modulo 97), avec 2A → 19 et 2B → 18 ; le message donne la clé attendue.' },
  'tddui-nir-consistency': { en: 'Correct the identity trait that is wrong: the NIR encodes sex (1st digit) and birth year and month (digits 2–5); check gender and birthDate against INSi.', fr: 'Corriger le trait d’identité erroné : le NIR code le sexe (1er chiffre) et l’année et le mois de naissance (chiffres 2 à 5) ; vérifier gender et birthDate auprès de l’INSi.' },
  'tddui-finess-key': { en: 'Check the FINESS number in the FINESS directory: its 9th digit is the Luhn key of the first 8.', fr: 'Vérifier le numéro FINESS dans le répertoire FINESS : son 9e chiffre est la clé de Luhn des 8 premiers.' },
  'tddui-local-id-format': { en: '"value": "123456789" → "3480787529/123456789" ("3" + FINESS + "/" + the DUI\'s id).', fr: '« "value": "123456789" » → « "3480787529/123456789" » (« 3 » + FINESS + « / » + identifiant du DUI).' },
  'tddui-idnatps-format': { en: '"value": "10003456789" (bare RPPS) → "810003456789" ("8" + RPPS).', fr: '« "value": "10003456789" » (RPPS seul) → « "810003456789" » (« 8 » + RPPS).' },
  'tddui-idnatst-format': { en: '"value": "480787529" (bare FINESS) → "1480787529" ("1" + FINESS).', fr: '« "value": "480787529" » (FINESS seul) → « "1480787529" » (« 1 » + FINESS).' },
  'tddui-business-id-layout': { en: '"value": "SEJ-1" → "3480787529/123456789-SEJ-1" (3 + FINESS / local usager id - tag - number).', fr: '« "value": "SEJ-1" » → « "3480787529/123456789-SEJ-1" » (3 + FINESS / identifiant local de l’usager - étiquette - numéro).' },
  'tddui-business-id-prefix': { en: 'Start the identifier with the local identifier of its usager (or facility): "3480787529/999-SEJ-1" for usager 3480787529/123 → "3480787529/123-SEJ-1".', fr: 'Faire commencer l’identifiant par l’identifiant local de son usager (ou de l’établissement) : « 3480787529/999-SEJ-1 » pour l’usager 3480787529/123 → « 3480787529/123-SEJ-1 ».' },
  'tddui-duplicate-business-id': { en: 'Give each resource its own identifier value (number the séjours, events…: -SEJ-1, -SEJ-2).', fr: 'Donner à chaque ressource sa propre valeur d’identifiant (numéroter séjours, évènements… : -SEJ-1, -SEJ-2).' },
  'tddui-request-url': { en: '"request": { "url": "TDDUIPatient" } → "request": { "method": "POST", "url": "Patient" }', fr: '« "request": { "url": "TDDUIPatient" } » → « "request": { "method": "POST", "url": "Patient" } »' },
  'tddui-period-order': { en: '"period": { "start": "2024-03-01", "end": "2024-02-01" } → swap, or correct the wrong date.', fr: '« "period": { "start": "2024-03-01", "end": "2024-02-01" } » → inverser, ou corriger la date erronée.' },
  'tddui-birth-order-required': { en: '"birthDate": "1950-01-01" → "birthDate": "1950-01-01", "_birthDate": { "extension": [ { "url": "…/tddui-birth-order", "valueInteger": 1 } ] }', fr: '« "birthDate": "1950-01-01" » → ajouter « "_birthDate": { "extension": [ { "url": "…/tddui-birth-order", "valueInteger": 1 } ] } »' },
  'tddui-birth-order-range': { en: '"valueInteger": 0 → a birth order between 1 and 999 (usually 1).', fr: '« "valueInteger": 0 » → un rang de naissance entre 1 et 999 (en général 1).' },
  'tddui-ssiad-window-span': { en: 'Export the last 5 weeks only: filter events and transports on start ≥ export day − 35 days.', fr: 'N’exporter que les 5 dernières semaines : filtrer évènements et transports sur début ≥ jour de l’export − 35 jours.' },
  'tddui-ssiad-window-age': { en: 'Export the last 5 weeks only (start ≥ export day − 35 days); an older event belongs to an earlier export.', fr: 'N’exporter que les 5 dernières semaines (début ≥ jour de l’export − 35 jours) ; un évènement plus ancien relevait d’un export précédent.' },
  'tddui-ssiad-window-min': { en: 'Nothing required; a SSIAD export usually covers at least a week of events.', fr: 'Rien d’obligatoire ; un export SSIAD couvre en général au moins une semaine d’évènements.' },
  'tddui-evaluation-actor': { en: 'Name who evaluated: "source": { "reference": "urn:uuid:<PractitionerRole>" } or "author".', fr: 'Nommer l’évaluateur : « "source": { "reference": "urn:uuid:<PractitionerRole>" } » ou « "author" ».' },
  'tddui-gir-only-aggir': { en: 'Remove the item resultat-eval from an evaluation that is not an AGGIR grid.', fr: 'Retirer l’item resultat-eval d’une évaluation qui n’est pas une grille AGGIR.' },
  'tddui-situation-aucun-motif': { en: 'Answer "aucun-motif" false when another indicator is true (or the other indicators false).', fr: 'Répondre « aucun-motif » faux quand un autre indicateur est vrai (ou les autres indicateurs faux).' },
  'tddui-event-status': { en: '"status": "in-progress" → "planned", "triaged", "finished" or "cancelled" (the SFE statuses).', fr: '« "status": "in-progress" » → « planned », « triaged », « finished » ou « cancelled » (les statuts du SFE).' },
  'tddui-v1-patch-content-only': { en: 'PATCH only DocumentReference.content; send any other change as a new transaction.', fr: 'Ne modifier par PATCH que DocumentReference.content ; tout autre changement passe par une nouvelle transaction.' },
  'tddui-rule-error': { en: 'Not a defect of the data as such: report it with the file; the other rules were applied.', fr: 'Pas un défaut des données en soi : le signaler avec le fichier ; les autres règles ont été appliquées.' },
};

/** The fix example of a rule id; undefined when there is none. */
export function fixFor(id: string, category?: 'not-checked' | 'ig-defect'): RuleFix | undefined {
  return FIXES[id] ?? (category === 'not-checked' ? NOT_CHECKED : category === 'ig-defect' ? IG_DEFECT : undefined);
}
