CodeSystem: MedComMessagingActivityCodes
Id: medcom-messaging-activityCodes
Title: "MedComMessagingActivityCodes"
Description: """
    CodeSystem containing codes for activities
    occuring in MedCom messages
    """
* ^version  =  "1.8.1"
* ^status  =  #active
* ^caseSensitive = false
* ^property[+].code = #status
* ^property[=].uri = "http://hl7.org/fhir/concept-properties#status"
* ^property[=].type = #code
* #new-message "A new message has been sent" "Sent for the first time"
  * ^property[+].code = #status
  * ^property[+].code = #status
  * ^property[=].valueCode = #active
* #admit "Start hospital stay"
  * #admit-emergency "Start hospital stay - acute ambulant"
    * ^designation.language = #da
    * ^designation.value = "Start sygehusophold - akut ambulant"
* #retired-message "Retired message"
  * ^property[+].code = #status
  * ^property[=].valueCode = #retired
* #"code with space" "Quoted code"
* #admit-emergency "Defined twice"

ValueSet: MedComHospitalNotificationMessageActivities
Id: medcom-hospitalNotification-messageActivities
* ^status = #active
* include codes from system MedComMessagingActivityCodes where concept descendent-of #admit
* MedComMessagingActivityCodes#new-message "A new message"
* include #retired-message and #"code with space" from system medcom-messaging-activityCodes
* exclude $ActCodes#OBSENC
* $sct#723506003 // "resolved"
* include codes from system http://terminology.hl7.org/CodeSystem/usage-context-type
* insert SomeRuleSet

ValueSet: LegacyObservations
Id: legacy-observations
* ^url = "http://example.org/fhir/ValueSet/legacy-observations"
* ^identifier.value = "urn:oid:1.2.208.176.2.1"
* ^compose.include[+].system = $medcomcodes
* ^compose.include[=].concept[+].code = #MCS88125
* ^compose.include[=].concept[=].display = "TOBS score;Pt"
* ^compose.include[=].concept[=].designation[+].use = #900000000000013009
* ^compose.include[=].concept[=].designation[=].value = "TOBS"
* ^compose.include[=].concept[+].code = #MCS88125
* ^compose.include[=].concept[=].display = "TOBS score;Pt"
* ^extension[fmm].valueInteger = 1

Instance: medcom-messaging-map
InstanceOf: ConceptMap
* name = "Map"
