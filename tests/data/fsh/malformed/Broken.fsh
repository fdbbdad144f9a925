ValueSet: Broken
Id: broken
* ^status = #draft
* http://snomed.info/sct#723506003 "resolved
