// Aliases for every .fsh file of this folder (MedCom keeps them in alias.fsh, as SUSHI allows)
Alias: $NPU = urn:oid:1.2.208.176.2.1
Alias: $sct = http://snomed.info/sct
Alias: $medcomcodes = https://terminology.medcom.dk/fhir/observation-code
Alias: $ActCodes = http://terminology.hl7.org/CodeSystem/v3-ActCode
