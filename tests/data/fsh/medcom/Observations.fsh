/* The NPU and MCS observation value sets in the form of MedCom's IG since July 2025: a copy of the codes as a
   CodeSystem (url = the real system), and a value set of all codes of that copy. */
CodeSystem: NPUObservationCodes
Id: npu-observation-codes
Title: "NPUObservationCodes"
Description: "CodeSystem with NPU observation codes"
* ^version = "1.0.0"
* ^status = #draft
* ^url = "urn:oid:1.2.208.176.2.1"
* ^language = #da-DK

* #NPU19748 "P—C-reaktivt protein; massek. = ? mg/L"
  * ^designation[+].use.system = $sct
  * ^designation[=].use.code   = #900000000000013009
  * ^designation[=].value      = "C-reaktivt protein [CRP];P"
  * ^property[+].code          = #status
  * ^property[=].valueCode     = #experimental
* #NPU02593 "B—Leukocytter; antalk. = ? × 10^9/L"
* #NPU02636 "B—Leukocytter; antalk. = ? × 10^9/L"   // MedCom's slip: NPU02636 is the lymphocytes
* #NPU03804 "Pt—Legeme; masse = ? kg"

ValueSet: NPUObservationCodesValueSet
Id: npu-observation-codes-valueset
Title: "NPUObservationCodesValueSet"
Description: "ValuseSet with NPU observations Codes"
* ^version = "1.8.1"
* ^status = #draft
* ^date = "2025-06-28"
* include codes from system npu-observation-codes

CodeSystem: MedComObservationCodes
Id: medcom-observation-codes
* ^version = "1.0.0"
* #MCS88125 "Pt—Tidlig Opsporing af Begyndende Sygdom (TOBS) score; antal (værdi 0-15) = ?"
* #MCS88126 "Pt—Bevidsthedsniveau; arb.antal(værdi 0-3) = ?"

ValueSet: MedComObservationValueSet
Id: medcom-observation-valueset
* ^version = "1.8.1"
* ^status = #draft
* ^experimental = true
* include codes from system medcom-observation-codes
