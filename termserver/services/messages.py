"""OperationOutcome texts worded exactly as the HL7 FHIR Java core and tx.fhir.org word them.

Why: a validator (the HL7 Java validator, the IG publisher) shows the terminology server's issue texts to its user
unchanged, so the same problem must read the same whichever server answered; and the HL7 terminology conformance
tests (``tx-tests``, ``test-cases.json``) compare every ``details.text`` and ``message`` character for character.
Each issue also carries the key in the ``operationoutcome-message-id`` extension, so keys are part of the contract.

Where the texts come from (Apache License 2.0; copied verbatim, only the keys this server uses):

* HL7 FHIR core, ``hapifhir/org.hl7.fhir.core``, file
  ``org.hl7.fhir.utilities/src/main/resources/Messages.properties`` at commit
  ``69491f1996351fc2ccdf22a7eb46ed9aae0b391a``.
* tx.fhir.org's copy of that same file, ``HealthIntersections/FHIRsmith``, ``translations/Messages.properties`` at
  commit ``030bbf06828b14f8211e437207bf0c0e29cadee3`` (the Pascal server's ``HealthIntersections/fhirserver``
  ``exec/pack/Messages.properties`` has the same texts). It is newer than the core commit above: over forty of the
  keys below (the ``VALUESET_VALUE_MISMATCH`` family, ``INACTIVE_CONCEPT_FOUND``, ``VS_EXP_IMPORT_*``, ...) are only
  in it, and a few texts were reworded since (``VALUESET_TOO_COSTLY`` "to produce", ``STATUS_CODE_WARNING_CODE``
  "The concept", ``UNKNOWN_CODE_IN_FRAGMENT`` "in the CodeSystem"). Where the two differ this module has
  tx.fhir.org's wording, because that is what the conformance tests expect; the comments mark those keys.

Templates are Java ``MessageFormat`` patterns: ``{0}`` is an argument, ``''`` is one quote, and a lone ``'``
quotes a literal section (so ``{`` inside it is not an argument). Plural keys come in ``_one``/``_other`` pairs and
get the count as argument ``{0}`` (the Java ``I18nBase.formatMessagePlural`` convention), which is why their own
arguments start at ``{1}``.
"""
from __future__ import annotations

from functools import lru_cache

# Keys from core @69491f1 unless marked "tx.fhir.org": those are tx.fhir.org's copy (newer key, or newer wording).
# Values are as the .properties file holds them after the "key = " (Java drops the blanks after "=", keeps the rest);
# where the two files differ only in trailing blanks (core has a few more), the value is tx.fhir.org's.
TEMPLATES: dict[str, str] = {
    # --- code systems: unknown, unknown version, unusable ----------------------------------------------------------
    "UNKNOWN_CODESYSTEM":
        "A definition for CodeSystem ''{0}'' could not be found, so the code cannot be validated",
    "UNKNOWN_CODESYSTEM_VERSION":
        "A definition for CodeSystem ''{0}'' version ''{1}'' could not be found, so the code cannot be validated. "
        "Valid versions: {2}",
    # tx.fhir.org
    "UNKNOWN_CODESYSTEM_VERSION_NONE":
        "A definition for CodeSystem ''{0}'' version ''{1}'' could not be found, so the code cannot be validated. "
        "No versions of this code system are known",
    # tx.fhir.org
    "UNKNOWN_CODESYSTEM_EXP":
        "A definition for CodeSystem ''{0}'' could not be found, so the value set cannot be expanded",
    # tx.fhir.org
    "UNKNOWN_CODESYSTEM_VERSION_EXP":
        "A definition for CodeSystem ''{0}'' version ''{1}'' could not be found, so the value set cannot be "
        "expanded. Valid versions: {2}",
    # tx.fhir.org
    "UNKNOWN_CODESYSTEM_VERSION_EXP_NONE":
        "A definition for CodeSystem ''{0}'' version ''{1}'' could not be found, so the value set cannot be "
        "expanded. No versions of this code system are known",
    # tx.fhir.org
    "UNKNOWN_CODESYSTEM_CODING_NOT_CHECKED":
        "A definition for the code system ''{0}'' could not be found, so this coding was not checked. The "
        "CodeableConcept is still valid: another coding is in the value set",
    "Terminology_TX_System_Invalid": "Invalid System URI: {0}",
    "Terminology_TX_System_NotKnown":
        "A definition for CodeSystem ''{0}'' could not be found, so the code cannot be validated",
    # tx.fhir.org (core @69491f1 has "doesn't" with a lone quote, which MessageFormat would eat)
    "TERMINOLOGY_TX_SYSTEM_NOT_USABLE":
        "The definition for the Code System with URI ''{0}'' doesn''t provide any codes so the code cannot be "
        "validated",
    "Terminology_TX_System_Relative": "Coding.system must be an absolute reference, not a local reference",
    "Terminology_TX_System_Unknown": "Unknown Code System ''{0}''",
    "Terminology_TX_System_ValueSet": "Invalid System URI: {0} - cannot use a value set URI as a system",
    "Terminology_TX_System_ValueSet2": "The Coding references a value set, not a code system (''{0}'')",
    "TERMINOLOGY_TX_SYSTEM_HTTPS": "The system URL ''{0}'' wrongly starts with https: not http:",
    "TERMINOLOGY_TX_SYSTEM_NO_CODE":
        "A code with no system has no defined meaning, and it cannot be validated. A system should be provided",
    "TERMINOLOGY_TX_SYSTEM_WRONG_BUILD":
        "The code system reference {0} is wrong - the code system reference cannot be a reference to "
        "build.fhir.org. This may be the correct reference: {1}",
    "TERMINOLOGY_TX_SYSTEM_WRONG_HTML":
        "The code system reference {0} is wrong - the code system reference cannot be to an HTML page. This may be "
        "the correct reference: {1}",
    # tx.fhir.org
    "TERMINOLOGY_TX_SYSTEM_UNSUPPORTED":
        "The code cannot be checked because codeSystem ''{0}'' version ''{1}'' is not supported ({2})",
    # tx.fhir.org (core @69491f1 has "can't" with a lone quote)
    "TERMINOLOGY_TX_UNKNOWN_OID": "The OID ''{0}'' is not known, so the code can''t be validated",
    "CODESYSTEM_CS_NO_SUPPLEMENT": "CodeSystem {0} is a supplement, so can''t be used as a value in Coding.system",
    # tx.fhir.org
    "CODESYSTEM_NOT_ENUMERABLE":
        "The code system ''{0}'' cannot be expanded because its codes cannot be iterated or enumerated in any "
        "meaningful sense",
    "CODESYSTEM_CS_HL7_MISSING_ELEMENT_SHALL":
        "HL7 Defined CodeSystems SHALL have a stated value for the {0} element so that users know the status and "
        "meaning of the code system clearly",
    "CODESYSTEM_CS_HL7_MISSING_ELEMENT_SHOULD":
        "HL7 Defined CodeSystems SHOULD have a stated value for the {0} element so that users know the status and "
        "meaning of the code system clearly",
    "CODESYSTEM_CS_NONHL7_MISSING_ELEMENT":
        "CodeSystems SHOULD have a stated value for the {0} element so that users know the status and meaning of "
        "the code system clearly",

    # --- no system, system cannot be inferred ------------------------------------------------------------------
    "Coding_has_no_system__cannot_validate":
        "Coding has no system. A code with no system has no defined meaning, and it cannot be validated. A system "
        "should be provided",
    "Coding_has_no_system__cannot_validate_NO_INFER":
        "Coding has no system, and inferring the code system is not possible in this context. A code with no "
        "system has no defined meaning, and it cannot be validated. A system should be provided",
    # tx.fhir.org
    "Coding_has_no_system_or_code__cannot_validate":
        "Coding has neither a system nor a code, so it cannot be validated. A system and a code should be provided",
    "UNABLE_TO_INFER_CODESYSTEM": "The System URI could not be determined for the code ''{0}'' in the ValueSet ''{1}''",
    "Unable_to_resolve_system__value_set_has_no_matches":
        "The System URI could not be determined for the code ''{0}'' in the ValueSet ''{1}''",
    "Unable_to_resolve_system__value_set_has_multiple_matches":
        "The System URI could not be determined for the code ''{0}'' in the ValueSet ''{1}'': value set expansion "
        "has multiple matches: {2}",
    "Unable_to_resolve_system__value_set_expansion_has_multiple_systems":
        "The System URI could not be determined for the code ''{0}'' in the ValueSet ''{1}'': value set expansion "
        "has multiple systems",
    "Unable_to_resolve_system__value_set_has_imports":
        "The System URI could not be determined for the code ''{0}'' in the ValueSet ''{1}'': value set has imports",
    "Unable_to_resolve_system__value_set_has_no_includes_or_expansion":
        "The System URI could not be determined for the code ''{0}'' in the ValueSet ''{1}'': value set has no "
        "includes or expansion",
    "Unable_to_resolve_system__value_set_has_include_with_unknown_system":
        "The System URI could not be determined for the code ''{0}'' in the ValueSet ''{1}'': include #{2} has "
        "system {3} which could not be found, and the server returned error {4}",
    # tx.fhir.org (core @69491f1 has no ": {4}")
    "Unable_to_resolve_system__value_set_has_include_with_filter":
        "The System URI could not be determined for the code ''{0}'' in the ValueSet ''{1}'': include #{2} has a "
        "filter on system {3}: {4}",

    # --- codes: unknown, invalid, case, abstract, status ---------------------------------------------------------
    "Unknown_Code_in": "Unknown code ''{0}'' in the CodeSystem ''{1}''",
    "Unknown_Code_in_Version": "Unknown code ''{0}'' in the CodeSystem ''{1}'' version ''{2}''",
    # tx.fhir.org: SNOMED CT, with the edition's name; the message-id stays Unknown_Code_in_Version
    "Unknown_Code_in_Version_SCT": "Unknown code ''{0}'' in the CodeSystem ''{1}'' version ''{2}'' ({3})",
    # tx.fhir.org (core @69491f1: "in the system")
    "UNKNOWN_CODE_IN_FRAGMENT":
        "Unknown Code ''{0}'' in the CodeSystem ''{1}'' version ''{2}'' - note that the code system is labeled as "
        "a fragment, so the code may be valid in some other fragment",
    "Terminology_TX_Code_NotValid": "Code {0} is not a valid code in code system {1}",
    "Terminology_TX_Code_Unknown": "Unknown Code ({0}#{1})",
    # tx.fhir.org
    "NO_CODE_PROVIDED": "No code provided for CodeSystem ''{0}''",
    # tx.fhir.org
    "NO_CODE_PROVIDED_VERSION": "No code provided for CodeSystem ''{0}'' version ''{1}''",
    "CODE_CASE_DIFFERENCE":
        "The code ''{0}'' differs from the correct code ''{1}'' by case. Although the code system ''{2}'' is case "
        "insensitive, implementers are strongly encouraged to use the correct case anyway",
    # tx.fhir.org
    "CODE_NOT_IN_NORMAL_FORM":
        "The code ''{0}'' is valid, but it is not the normal form for the code system ''{2}''; the normal form is "
        "''{1}''",
    "ABSTRACT_CODE_NOT_ALLOWED": "Code ''{0}#{1}'' is abstract, and not allowed in this context",
    # tx.fhir.org
    "INACTIVE_CONCEPT_FOUND": "The concept ''{1}'' has a status of {0} and its use should be reviewed",
    # tx.fhir.org
    "INACTIVE_CONCEPT_FOUND_ADD": "The concept ''{1}'' has a status of {0} and {2} and its use should be reviewed",
    # tx.fhir.org
    "DEPRECATED_CONCEPT_FOUND": "The concept ''{1}'' is deprecated and its use should be reviewed",
    # tx.fhir.org
    "CONCEPT_DEPRECATED_IN_VALUESET":
        "The presence of the concept ''{1}'' in the system ''{0}'' in the value set {3} is marked with a status of "
        "{2} and its use should be reviewed",
    # STATUS_CODE_WARNING, _HINT and _HINT_CODE are commented out in tx.fhir.org's copy; kept for completeness
    "STATUS_CODE_WARNING": "The code is valid but is {0}",
    "STATUS_CODE_HINT": "The code is {0}",
    # tx.fhir.org (core @69491f1: "The code ''{1}''")
    "STATUS_CODE_WARNING_CODE": "The concept ''{1}'' is valid but is {0}",
    "STATUS_CODE_HINT_CODE": "The code ''{1}'' is {0}",

    # --- displays -------------------------------------------------------------------------------------------------
    # plural: {0} count, {1} system, {2} code, {3} valid display(s), {4} display given, {5} languages
    "Display_Name_for__should_be_one_of__instead_of_one":
        "Wrong Display Name ''{4}'' for {1}#{2}. Valid display is {3} (for the language(s) ''{5}'')",
    "Display_Name_for__should_be_one_of__instead_of_other":
        "Wrong Display Name ''{4}'' for {1}#{2}. Valid display is one of {0} choices: {3} (for the language(s) "
        "''{5}'')",
    "Display_Name_WS_for__should_be_one_of__instead_of_one":
        "Wrong whitespace in Display Name ''{4}'' for {1}#{2}. Valid display is {3} (for the language(s) ''{5}'')",
    "Display_Name_WS_for__should_be_one_of__instead_of_other":
        "Wrong whitespace in Display Name ''{4}'' for {1}#{2}. Valid display is one of {0} choices: {3} (for the "
        "language(s) ''{5}'')",
    # tx.fhir.org (the trailing blank is in the file)
    "Display_Name_Not_Fixed_use_Supplement_one":
        "The display name ''{4}'' is not a known display name for {1}#{2}. Known display is {3} (for the "
        "language(s) ''{5}''). Use a supplement to define displays for user assigned codes ",
    # tx.fhir.org (the trailing blank is in the file)
    "Display_Name_Not_Fixed_use_Supplement_other":
        "The display name ''{4}'' is not a known display name for {1}#{2}. Known displays are {3} (for the "
        "language(s) ''{5}''). Use a supplement to define displays for user assigned codes ",
    "NO_VALID_DISPLAY_FOUND_one": "No valid Display Names found for {1}#{2} in the language {4}",
    "NO_VALID_DISPLAY_FOUND_other": "No valid Display Names found for {1}#{2} in the languages {4}",
    # tx.fhir.org
    "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_ERR":
        "Wrong Display Name ''{0}'' for {1}#{2}. There are no valid display names found for language(s) ''{3}''. "
        "Default display is ''{4}''",
    # tx.fhir.org
    "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK":
        "There are no valid display names found for the code {1}#{2} for language(s) ''{3}''. The display is "
        "''{0}'' which is a valid display for the default language",
    # tx.fhir.org
    "NO_VALID_DISPLAY_FOUND_LANG_NONE_one":
        "''{5}'' is the default display; the code system {1} has no Display Names for the language {4}",
    # tx.fhir.org
    "NO_VALID_DISPLAY_FOUND_LANG_NONE_other":
        "''{5}'' is the default display; the code system {1} has no Display Names found for the language {4}",
    # tx.fhir.org
    "NO_VALID_DISPLAY_FOUND_LANG_SOME_one":
        "''{5}'' is the default display; no valid Display Names found for {1}#{2} in the language {4}",
    # tx.fhir.org
    "NO_VALID_DISPLAY_FOUND_LANG_SOME_other":
        "''{5}'' is the default display; no valid Display Names found for {1}#{2} in the language {4}",
    # tx.fhir.org
    "NO_VALID_DISPLAY_AT_ALL": "Cannot validate display ''{0}'' for {1}#{2} in language {3}: No displays are known",
    # tx.fhir.org (in the file the _one text starts with a second blank after "=", which Java drops)
    "INACTIVE_DISPLAY_FOUND_one":
        "''{1}'' is no longer considered a correct display for code ''{2}'' (status = {4}). The correct display "
        "is ''{3}''",
    # tx.fhir.org
    "INACTIVE_DISPLAY_FOUND_other":
        "''{1}'' is no longer considered a correct display for code ''{2}'' (status = {4}). The correct display "
        "is one of {3}",
    # tx.fhir.org: the displayLanguage parameter is not a language code
    "INVALID_DISPLAY_NAME": "Invalid displayLanguage: ''{0}''",
    "Terminology_TX_Display_Wrong": "Display should be ''{0}''",

    # --- value sets: membership, not found, versions, supplements, size ------------------------------------------
    # plural: {0} count, {1} value set, {2} the code(s) as the caller quotes them
    "None_of_the_provided_codes_are_in_the_value_set_one":
        "The provided code {2} was not found in the value set ''{1}''",
    "None_of_the_provided_codes_are_in_the_value_set_other":
        "None of the provided codes [{2}] are in the value set ''{1}''",
    "TX_GENERAL_CC_ERROR_MESSAGE": "No valid coding was found for the value set ''{0}''",
    "Unable_to_resolve_value_Set_": "A definition for the value Set ''{0}'' could not be found",
    "Terminology_TX_ValueSet_NotFound": "ValueSet ''{0}'' not found",
    "Terminology_TX_ValueSet_NotFound_CS": "Found a reference to a CodeSystem ''{0}'' where a ValueSet belongs",
    "UNABLE_TO_CHECK_IF_THE_PROVIDED_CODES_ARE_IN_THE_VALUE_SET":
        "Unable to check whether the code is in the value set ''{0}''",
    # tx.fhir.org spells this key with a trailing underscore
    "UNABLE_TO_CHECK_IF_THE_PROVIDED_CODES_ARE_IN_THE_VALUE_SET_":
        "Unable to check whether the code is in the value set ''{0}''",
    "UNABLE_TO_CHECK_IF_THE_PROVIDED_CODES_ARE_IN_THE_VALUE_SET_CS":
        "Unable to check whether the code is in the value set ''{0}'' because the code system {1} was not found",
    "UNABLE_TO_CHECK_IF_THE_PROVIDED_CODES_ARE_IN_THE_VALUE_SET_VS":
        "Unable to check whether the code is in the value set ''{0}'' because the value set {1} was not found",
    # tx.fhir.org
    "VALUESET_VALUE_MISMATCH":
        "The code system ''{0}'' version ''{1}'' in the ValueSet include is different to the one in the value "
        "(''{2}'')",
    # tx.fhir.org
    "VALUESET_VALUE_MISMATCH_CHANGED":
        "The code system ''{0}'' version ''{1}'' resulting from the version ''{2}'' in the ValueSet include is "
        "different to the one in the value (''{3}'')",
    # tx.fhir.org ({2}, the include's version, is passed but not shown)
    "VALUESET_VALUE_MISMATCH_DEFAULT":
        "The code system ''{0}'' version ''{1}'' for the versionless include in the ValueSet include is different "
        "to the one in the value (''{3}'')",
    # tx.fhir.org
    "VALUESET_VERSION_CHECK":
        "The version ''{1}'' is not allowed for system ''{0}'': required to be ''{2}'' by a version-check parameter",
    "VALUESET_SUPPLEMENT_MISSING_one": "Required supplement not found: {1}",
    "VALUESET_SUPPLEMENT_MISSING_other": "Required supplements not found: {1}",
    "VALUESET_CIRCULAR_REFERENCE":
        "Found a circularity pointing to {0} processing ValueSet with pathway {1}",
    # tx.fhir.org (core @69491f1: "too many codes to display")
    "VALUESET_TOO_COSTLY": "The value set ''{0}'' expansion has too many codes to produce ({1})",
    "VALUESET_TOO_COSTLY_COUNT":
        "The value set ''{0}'' expansion has {2} codes, which is too many to display ({1})",
    # tx.fhir.org (core @69491f1: "''{0}'' expansion took too long")
    "VALUESET_TOO_COSTLY_TIME": "The value set ''{0}'' {2} took too long to process (>{1}sec)",
    # tx.fhir.org
    "VALUESET_NO_COMPOSE": "The value set {0} has no compose and no expansion, so it cannot be expanded",
    "VALUESET_REFERENCE_UNKNOWN": "The value set import {0} could not be found so cannot be checked",

    # --- value set filters and imports (expansion) ----------------------------------------------------------------
    # tx.fhir.org
    "UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE": "The system {0} filter with property = {1}, op = {2} has no value",
    "Unable_to_handle_system__concept_filter_with_op__": "Unable to handle system {0} concept filter with op = {1}",
    "UNABLE_TO_HANDLE_SYSTEM__PROPERTY_FILTER_WITH_OP__": "Unable to handle system {0} property filter with op = {1}",
    "Unable_to_handle_system__filter_with_property__":
        "Unable to handle system {0} filter with property = {1}, op = {2}",
    # tx.fhir.org
    "FILTER_NOT_UNDERSTOOD": "The filter \"{0} {1} {2}\" is not understood or supported",
    # tx.fhir.org
    "INVALID_ECL": "Invalid ECL expression: ''{0}'': ({1})",
    # tx.fhir.org
    "UNSUPPORTED_ECL": "The ECL expression is not supported: ''{0}'': ({1})",
    # tx.fhir.org
    "INVALID_REGEX": "The regex ''{0}'' is not valid: {1}",
    # tx.fhir.org: the VS_EXP_* family
    "VS_EXP_FILTER_UNK": "ValueSet ''{0}'' Filter by property ''{1}'' and op ''{2}'' is not supported (yet?)",
    "VS_EXP_IMPORT_CS": "Cannot include value set ''{0}'' because it''s actually a code system",
    "VS_EXP_IMPORT_CS_PINNED": "Cannot include value set ''{0}'' version ''{1}'' because it''s actually a code system",
    "VS_EXP_IMPORT_CS_PINNED_X":
        "Cannot exclude value set ''{0}'' version ''{1}'' because it''s actually a code system",
    "VS_EXP_IMPORT_CS_X": "Cannot exclude value set ''{0}'' because it''s actually a code system",
    "VS_EXP_IMPORT_ERROR": "Unable to expand included value set ''{0}'': {1}",
    "VS_EXP_IMPORT_ERROR_X": "Unable to expand included value set ''{0}'', but no error",
    "VS_EXP_IMPORT_FAIL": "Unable to expand included value set {0}",
    "VS_EXP_IMPORT_FAIL_X": "Unable to expand excluded value set {0}",
    "VS_EXP_IMPORT_NULL": "Unable to find included value set with no identity",
    "VS_EXP_IMPORT_NULL_X": "Unable to find excluded value set with no identity",
    "VS_EXP_IMPORT_UNK": "Unable to find included value set ''{0}''",
    "VS_EXP_IMPORT_UNK_PINNED": "Unable to find included value set ''{0}'' version ''{1}''",
    "VS_EXP_IMPORT_UNK_PINNED_X": "Unable to find excluded value set ''{0}'' version ''{1}''",
    "VS_EXP_IMPORT_UNK_X": "Unable to find excluded value set ''{0}''",

    # --- status of the resources used: {0} canonical|version, {1} where from, {2} resource type ---------------------
    "MSG_DEPRECATED": "Reference to deprecated {2} {0}",
    "MSG_WITHDRAWN": "Reference to withdrawn {2} {0}",
    "MSG_RETIRED": "Reference to retired {2} {0}",
    "MSG_EXPERIMENTAL": "Reference to experimental {2} {0}",
    "MSG_DRAFT": "Reference to draft {2} {0}",
    "MSG_DEPRECATED_SRC": "Reference to deprecated {2} {0} from {1}",
    "MSG_WITHDRAWN_SRC": "Reference to withdrawn {2} {0} from {1}",
    "MSG_RETIRED_SRC": "Reference to retired {2} {0} from {1}",
    "MSG_EXPERIMENTAL_SRC": "Reference to experimental {2} {0} from {1}",
    "MSG_DRAFT_SRC": "Reference to draft {2} {0} from {1}",
}

PLURAL_ONE = "_one"
PLURAL_OTHER = "_other"


def text(key: str, *args: object) -> str:
    """The message ``key`` with ``args`` put in, as Java ``MessageFormat`` (and tx.fhir.org) renders it.

    ``''`` becomes ``'``; a lone ``'`` starts or ends a quoted section, whose ``{`` and ``}`` are literal; ``{n}``
    is ``args[n]``, or stays ``{n}`` when there are fewer arguments (as in Java). ``None`` renders as ``null`` and
    booleans as ``true``/``false`` (Java's ``toString``); numbers are not grouped (``1000``, not Java's ``1,000``),
    as tx.fhir.org passes them as text. Trailing blanks, which a few templates carry by accident, are dropped:
    tx.fhir.org's texts never end in one.

    :raises KeyError: ``key`` is not in :data:`TEMPLATES` (a programming error, not a user's).
    """
    try:
        template = TEMPLATES[key]
    except KeyError:
        raise KeyError(f"no message template {key!r}") from None
    out: list[str] = []
    for part in _parse(template):
        if isinstance(part, str):
            out.append(part)
        elif part < len(args):
            out.append(_render(args[part]))
        else:
            out.append("{" + str(part) + "}")
    return "".join(out).rstrip()


def plural(key_base: str, count: int, *args: object) -> str:
    """The ``_one`` (``count == 1``) or ``_other`` form of ``key_base``, with ``count`` as ``{0}`` and ``args`` from
    ``{1}`` on (Java ``I18nBase.formatMessagePlural``; English plural rules).

    :raises KeyError: ``key_base`` has no such plural form.
    """
    return text(key_base + (PLURAL_ONE if count == 1 else PLURAL_OTHER), count, *args)


def is_known(message_id: str) -> bool:
    """True when ``message_id`` is a key here, or the base of a plural pair here: the message-id extension carries
    the base (``Display_Name_for__should_be_one_of__instead_of``), not the ``_one``/``_other`` key."""
    return message_id in TEMPLATES or (message_id + PLURAL_ONE in TEMPLATES and message_id + PLURAL_OTHER in TEMPLATES)


@lru_cache(maxsize=None)
def _parse(template: str) -> tuple[str | int, ...]:
    """``template`` as literal pieces and argument indexes, by the rules of ``java.text.MessageFormat.applyPattern``.

    :raises ValueError: unmatched braces, or an argument that is not a bare index (``{0,number}`` is not used by any
        template here, so it is not supported).
    """
    parts: list[str | int] = []
    literal: list[str] = []
    in_quote = False
    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        if ch == "'":
            if i + 1 < n and template[i + 1] == "'":
                literal.append("'")
                i += 2
                continue
            in_quote = not in_quote
        elif ch == "{" and not in_quote:
            end = template.find("}", i + 1)
            index = template[i + 1:end].strip() if end != -1 else ""
            if end == -1 or not index.isdigit():
                raise ValueError(f"unsupported or unmatched argument at {i} in {template!r}")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(int(index))
            i = end + 1
            continue
        else:
            literal.append(ch)
        i += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _render(value: object) -> str:
    """One argument as Java's ``String.valueOf`` would show it (numbers ungrouped, see :func:`text`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
